"""The Gradio chat function, called as Gradio calls it, and what it renders."""

import pytest

from qa_bot.answer.result import Answer, Citation
from qa_bot.serve.ui import (
    build_chat,
    check_question,
    escape,
    history_turns,
    render_answer,
    source_anchor,
)


@pytest.fixture(scope="module")
def chat(bot):  # type: ignore[no-untyped-def]
    return build_chat(bot, ["Where did the special forces train?"])


def test_the_chat_answers_with_a_collapsible_sources_message(chat) -> None:
    answer, sources = chat.fn(
        "How many North Korean special forces arrived in Vladivostok?", [], None
    )
    assert "**around 1,500**" in answer["content"]
    anchor = source_anchor(answer["metadata"]["id"], 1)
    assert answer["content"].endswith(
        f'2024\\. <a class="qa-marker" href="#{anchor}">'
        '<span class="qa-visually-hidden">Source </span>1</a>'
    )
    assert sources["metadata"] == {"title": "Sources (1)"}  # no status: shown open
    assert sources["content"].startswith(
        f'<div class="qa-source" id="{anchor}" tabindex="-1">'
        "\n\n**\\[1\\]** North Korea's Military Involvement in"
    )
    assert "<mark>" in sources["content"] and "1,500" in sources["content"]


def test_each_answer_links_its_markers_to_its_own_sources(chat) -> None:
    """A chat holds several answers, each with a [1]: a marker leads to its own answer's."""
    question = "How many North Korean special forces arrived in Vladivostok?"
    anchors = []
    for _ in range(2):
        answer, sources = chat.fn(question, [], None)
        anchor = source_anchor(answer["metadata"]["id"], 1)
        assert f'href="#{anchor}"' in answer["content"] and f'id="{anchor}"' in sources["content"]
        anchors.append(anchor)
    assert anchors[0] != anchors[1]


def test_follow_ups_work_with_the_browser_history_shape(chat) -> None:
    history = [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "How many North Korean special forces arrived in Vladivostok?",
                }
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "…1,500… [1]"}]},
        {"role": "assistant", "content": "Sources", "metadata": {"title": "Sources (1)"}},
    ]
    (answer, *_) = chat.fn("When did they arrive?", history, None)
    assert "October 2024" in answer["content"]


def test_history_keeps_questions_and_answers_but_not_sources() -> None:
    turns = history_turns(
        [
            {"role": "user", "content": "Q1"},
            {"role": "assistant", "content": [{"type": "text", "text": "A1"}]},
            {"role": "assistant", "content": "[1] …", "metadata": {"title": "Sources (1)"}},
        ]
    )
    assert [(t.role, t.content) for t in turns] == [("user", "Q1"), ("assistant", "A1")]


def test_declines_and_errors_are_polite_messages(chat) -> None:
    declined, related = chat.fn("Who painted the Mona Lisa?", [], None)
    assert declined["content"] == escape(
        "The article doesn't mention “Mona Lisa”, so I can't answer that. The passages below "
        "are the closest it comes."
    )
    assert related["metadata"]["title"].startswith("Related in the article, not an answer")
    assert "<mark>" not in related["content"]
    (error,) = chat.fn("   ", [], None)
    assert error["content"] == escape("The question is empty; type a question about the article.")


def test_article_text_is_shown_literally_never_as_html_or_links() -> None:
    hostile = "<script>alert(1)</script> [click](javascript:alert(1)) <img src=x onerror=alert(1)>"
    citation = Citation(
        1,
        "a.txt",
        0,
        len(hostile),
        hostile,
        "<script>alert(1)</script>",
        1.0,
        quote_spans=((0, 25),),
    )
    answer, sources = render_answer(Answer("q", hostile + " [1]", True, 0.9, (citation,)))
    for content in (answer["content"], sources["content"]):
        assert "<script>" not in content and "<img" not in content
        assert "](javascript" not in content
    assert "&lt;script&gt;" in sources["content"]


def test_the_chat_is_configured_for_many_readers_and_safe_html(chat) -> None:
    assert chat.chatbot.sanitize_html is True
    assert chat.concurrency_limit > 1
    assert chat.title.startswith("North Korea's Military Involvement in Ukraine")


def test_a_readers_message_is_shown_escaped_and_read_back_as_typed(chat) -> None:
    typed = "<b>bold</b> **star**"
    history = chat._append_message_to_history(typed, [], "user")
    assert history[0]["content"] == escape(typed)  # Markdown shows it as typed
    history += [{"role": "assistant", "content": "Sorry…"}]
    assert [t.content for t in history_turns(history)] == [typed, "Sorry…"]
    normalised = [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in history]
    assert chat._pop_last_user_message(normalised) == ([], typed)  # retry and undo


def test_the_chat_box_refuses_a_blank_question(chat) -> None:
    assert check_question("  \n")["is_valid"] is False
    assert check_question("Why?")["is_valid"] is True
