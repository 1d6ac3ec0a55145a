"""The Gradio chat: answers with numbered citations, the quoted sentences marked.

Article text and questions are untrusted: everything shown is HTML-escaped and
Markdown-escaped here (the heading too), LaTeX is never rendered, and Gradio's sanitize_html
stays on as a second line of defence.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

import gradio as gr

from qa_bot.answer.ask_request import (  # noqa: E402
    EMPTY_QUESTION,
    MAX_HISTORY_MESSAGES,  # noqa: E402
    parse_ask_request,
)
from qa_bot.answer.bot import QABot  # noqa: E402
from qa_bot.answer.question import Turn  # noqa: E402
from qa_bot.answer.result import Answer, Citation, ShortAnswer  # noqa: E402
from qa_bot.errors import INDEX_UNAVAILABLE, QABotError  # noqa: E402
from qa_bot.questionlog.log import QuestionLog  # noqa: E402

CONCURRENCY_LIMIT = 8  # readers answered at the same time; a question takes ~20 ms of CPU
# Gradio's functions that answer a question with ours (submit, retry, example, the API one):
# a queue/join POST of one of these is a question (guards.ReaderLimits).
ANSWERING_FNS = ("_submit_fn", "_stream_fn", "_examples_fn", "_examples_stream_fn")
# ":" and "@" too: "https\://" and "a\@b" are never turned into links (GFM autolinks).
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>:@])")
# One font for every letter, and nothing to download: the reader's own system font. (Gradio's
# bundled IBM Plex SemiBold lacks most letters, so a bold heading came out in two fonts.)
SYSTEM_FONTS = (
    "system-ui",
    "-apple-system",
    "Segoe UI",
    "Roboto",
    "Helvetica Neue",
    "Arial",
    "sans-serif",
)
MONO_FONTS = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace")
# Gradio dims a collapsible message's text (opacity .8, twice when nested): our sources are the
# evidence, so they stay at full strength, the quoted sentence marked with legible contrast.
# A marker reads "[1]" and is named "Source 1": visually hidden words, as Gradio's sanitizer
# drops aria-label, and brackets whose alternative text is empty. The marker and the source
# it leads to show when they have the focus.
CSS = """
.message-content, .message-content .prose { opacity: 1 !important; }
.message-content mark { background: #fde68a; color: #111827; border-radius: 2px; }
.qa-marker::before { content: "[" / ""; }
.qa-marker::after { content: "]" / ""; }
.qa-visually-hidden { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.qa-source { scroll-margin: 12px; border-radius: 4px; }
.qa-marker:focus-visible, .qa-source:focus { outline: 3px solid #f59e0b; outline-offset: 2px; }
"""
# Brings the reader from a marker to its source. Gradio's sanitizer keeps id, href, class and
# tabindex in our messages (not aria-* nor data-*, nor scripts); a fragment link alone reaches
# an open source, but not one in a folded block, whose content Gradio leaves out of the page.
CHAT_HEAD = (
    "<script>"
    + (Path(__file__).parent / "static" / "chat-links.js").read_text(encoding="utf-8")
    + "</script>"
)
SOURCES_TITLE = "Sources"
TYPED = "typed"  # metadata of a reader's message: the words as typed (ReaderChat)
RELATED_TITLE = "Related in the article, not an answer"


def escape(text: str) -> str:
    """Text shown literally: no HTML, no Markdown formatting, no links."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def render_answer(answer: Answer) -> list[dict[str, Any]]:
    """The chat messages for an answer: the quoted sentences with the short answer in bold and
    one marker per source, a link to it (the message carries the answer's id, for feedback),
    then its sources; for a decline, the related passages."""
    if not answer.answered:
        messages: list[dict[str, Any]] = [
            {"role": "assistant", "content": escape(answer.answer), "metadata": {"id": answer.id}}
        ]
        if answer.related:
            messages.append(
                _sources_message(RELATED_TITLE, [render_citation(c) for c in answer.related])
            )
        return messages
    quoted = " ".join(
        f"{_quote_markdown(c, answer.short_answer)} {_marker(answer.id, c.n)}"
        for c in answer.citations
    )
    sources = [_marked_source(answer.id, c) for c in answer.citations]
    return [
        {"role": "assistant", "content": quoted, "metadata": {"id": answer.id}},
        _sources_message(SOURCES_TITLE, sources),
    ]


def source_anchor(answer_id: str, n: int) -> str:
    """The page id of an answer's source n: a chat holds several answers, each with a [1]."""
    return f"qa-source-{answer_id}-{n}"


def _marker(answer_id: str, n: int) -> str:
    """A link to source n, shown "[n]" and named "Source n" (chat-links.js takes it there)."""
    return (
        f'<a class="qa-marker" href="#{source_anchor(answer_id, n)}">'
        f'<span class="qa-visually-hidden">Source </span>{n}</a>'
    )


def _quote_markdown(citation: Citation, short: ShortAnswer | None) -> str:
    """The citation's quoted sentences, escaped, built from their offsets, with the short
    answer in bold where it lies; " … " between sentences that are not adjacent."""
    pieces, previous_end = [], None
    for start, end in citation.quote_spans:
        if previous_end is not None:
            gap = citation.text[previous_end - citation.start : start - citation.start]
            pieces.append(escape(gap) if not gap.strip() else " … ")
        if short and short.source == citation.source and start <= short.start < short.end <= end:
            pieces += [
                escape(citation.text[start - citation.start : short.start - citation.start]),
                f"**{escape(short.text)}**",
                escape(citation.text[short.end - citation.start : end - citation.start]),
            ]
        else:
            pieces.append(escape(citation.text[start - citation.start : end - citation.start]))
        previous_end = end
    return "".join(pieces)


def _sources_message(title: str, blocks: list[str]) -> dict[str, Any]:
    """A collapsible block, open from the start (Gradio folds one whose status is "done"): the
    quoted passage is visible without a click; the reader may fold it."""
    return {
        "role": "assistant",
        "content": "\n\n".join(blocks),
        "metadata": {"title": f"{title} ({len(blocks)})"},
    }


def _marked_source(answer_id: str, citation: Citation) -> str:
    """A citation as the target of its marker: focusable by script, not by Tab."""
    return (
        f'<div class="qa-source" id="{source_anchor(answer_id, citation.n)}" tabindex="-1">'
        f"\n\n{render_citation(citation)}\n\n</div>"
    )


def render_citation(citation: Citation) -> str:
    """'[n] headline, characters a–b' and the passage, each quoted sentence marked by offset."""
    marked, position = [], citation.start
    for start, end in citation.quote_spans:
        marked.append(escape(citation.text[position - citation.start : start - citation.start]))
        marked.append(
            f"<mark>{escape(citation.text[start - citation.start : end - citation.start])}</mark>"
        )
        position = end
    marked.append(escape(citation.text[position - citation.start :]))
    name = escape(citation.title or citation.source)
    return (
        f"**\\[{citation.n}\\]** {name}, characters {citation.start}–{citation.end}\n\n> "
        + "".join(marked).replace("\n", "\n> ")
    )


def history_turns(history: list[dict[str, Any]]) -> list[Turn]:
    """Chat history as turns: content parts joined (a reader's words as typed), our Sources
    messages left out."""
    turns = []
    for message in history:
        metadata = message.get("metadata") or {}
        if metadata.get("title"):
            continue
        content = metadata.get(TYPED, message.get("content"))
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        if isinstance(content, str) and message.get("role") in ("user", "assistant"):
            turns.append(Turn(message["role"], content))
    return turns


def answer_id(history: list[dict[str, Any]], index: int) -> str | None:
    """The id of the answer that the message at `index` belongs to (its text or its sources)."""
    for message in reversed(history[: index + 1]):
        if message.get("role") != "assistant":
            return None
        found = (message.get("metadata") or {}).get("id")
        if found:
            return str(found)
    return None


def chat_title(bot: QABot) -> str:
    """The heading, as HTML-escaped text: Gradio inserts the title into the page as HTML."""
    try:
        titles = list(bot.info().titles.values())
    except QABotError:  # no usable index yet: every answer will say so
        titles = []
    title = titles[0] if len(titles) == 1 else f"Ask about {len(titles) or 'the'} articles"
    return html.escape(title, quote=False)


def heading_markup(title: str) -> str:
    """The page heading for `title`, already HTML-escaped (`chat_title`), as Gradio writes it."""
    return f"<h1 style='text-align: center; margin-bottom: 1rem'>{title}</h1>"


def theme() -> gr.themes.Base:
    """Gradio's default look in the system font stack (for mount_gradio_app)."""
    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def check_question(message: str) -> dict[str, Any]:
    """Refuses a blank question at the chat box, before it becomes an empty bubble."""
    return gr.validate(bool(message.strip()), EMPTY_QUESTION)


def question_fns(chat: gr.ChatInterface) -> list[int]:
    """The fn_index of each of the chat's functions that answers a question."""
    return [
        index
        for index, fn in chat.fns.items()
        if fn.name in ANSWERING_FNS or fn.api_name == chat.api_name
    ]


class ReaderChat(gr.ChatInterface):
    """A ChatInterface that shows what the reader typed as typed. Gradio renders every message
    as Markdown (render_markdown is one switch for the whole chatbot, and our answers need it),
    so a reader's message is displayed escaped, and the words typed travel in its metadata:
    follow-ups read them there (history_turns), and so do retry and undo (here)."""

    def _append_message_to_history(
        self, message: Any, history: list[Any], role: str = "user"
    ) -> list[Any]:
        if role == "user" and isinstance(message, str):
            message = {"role": "user", "content": escape(message), "metadata": {TYPED: message}}
        return super()._append_message_to_history(message, history, role)  # type: ignore[arg-type]

    def _render_header(self) -> None:
        """Gradio's heading, kept as `heading` so that each page load can show the title of the
        index in use (a rebuilt index may hold another article)."""
        self.heading = gr.Markdown(heading_markup(str(self.title)))
        if self.description:
            gr.Markdown(self.description)

    def _pop_last_user_message(self, history: list[Any]) -> tuple[list[Any], Any]:
        users = [m for m in history if m.get("role") == "user"]
        kept, message = super()._pop_last_user_message(history)
        typed = (users[-1].get("metadata") or {}).get(TYPED) if users else None
        return kept, typed if isinstance(typed, str) else message


def build_chat(
    bot: QABot, examples: list[str], question_log: QuestionLog | None = None
) -> gr.ChatInterface:
    def respond(
        message: str, history: list[dict[str, Any]], request: gr.Request
    ) -> list[dict[str, Any]]:
        source = request.query_params.get("source") if request else None
        turns = history_turns(history)[-MAX_HISTORY_MESSAGES:]  # a long chat asks on
        began = time.perf_counter()
        try:
            ask = parse_ask_request(
                {
                    "question": message,
                    "source": source or None,
                    "history": [{"role": turn.role, "content": turn.content} for turn in turns],
                }
            )
            answer = bot.ask(ask.question, ask.turns, ask.source)
        except QABotError as error:
            if error.status == 503:  # no usable index: the bot logged the cause on loading
                return [{"role": "assistant", "content": INDEX_UNAVAILABLE}]
            return [{"role": "assistant", "content": escape(str(error))}]
        if question_log:
            client = request.client.host if request and request.client else None
            question_log.record(
                answer,
                channel="chat",
                source=ask.source,
                latency=time.perf_counter() - began,
                client=client,
            )
        return render_answer(answer)

    def rate(history: list[dict[str, Any]], like: gr.LikeData) -> None:
        """Thumbs up or down on an answer: the reader's feedback, into the question log."""
        index = like.index if isinstance(like.index, int) else like.index[0]
        found = answer_id(history, index)
        if question_log and found and isinstance(like.liked, bool):
            question_log.add_feedback(found, like.liked)

    chat = ReaderChat(
        respond,
        title=chat_title(bot),
        description="Answers are the article's own sentences; *Sources* shows where each one "
        "comes from.",
        examples=examples or None,
        # No "share" button (to Hugging Face, unlabelled) nor "copy all"; a copy button per message.
        # show_label=False: the floating label covered messages scrolled under it.
        chatbot=gr.Chatbot(
            height=520,
            sanitize_html=True,
            label="Article Q&A",
            show_label=False,
            latex_delimiters=[],
            buttons=["copy"],
        ),
        concurrency_limit=CONCURRENCY_LIMIT,
        api_name="chat",
        validator=check_question,
        analytics_enabled=False,
        fill_height=True,
    )
    with chat:
        chat.load(
            lambda: heading_markup(chat_title(bot)),
            None,
            chat.heading,
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
        if question_log:
            chat.chatbot.like(rate, chat.chatbot, None, api_visibility="private")
    return chat
