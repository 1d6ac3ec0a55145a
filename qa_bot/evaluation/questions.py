"""The question sets `eval` reads: SQuAD 2.0 JSON or JSONL, with the articles to index.

SQuAD 2.0 JSON holds answerable and unanswerable questions over articles' paragraphs: each
article becomes one source, and its questions are asked of it. JSONL holds {"question",
"answers", "sentences"?, "history"?, "kind"?, "source"?} ("q" for "question", as in the shared
data sets); a question without answers should be declined. A JSONL file with an article of the
same name beside it (`story.jsonl` and `story.txt`) asks about that article indexed alone, as a
newsroom embeds one article per page. `sentences` are the article's sentences that answer;
`kind` (for example "offtopic" or "ontopic-unanswerable") groups the decline figures.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from qa_bot.answer.ask_request import parse_ask_request
from qa_bot.answer.question import Turn
from qa_bot.errors import QABotError

SHORT_ANSWER_WORDS = 4  # accepted answers this short are names, numbers, dates, places
# Kinds of unanswerable question on the article's subject (the AUC that matters is against them).
ON_TOPIC = ("ontopic", "ontopic-unanswerable", "unanswerable")


@dataclass(frozen=True)
class Case:
    question: str
    answers: tuple[str, ...]  # empty: the article does not say, the bot should decline
    history: tuple[dict[str, str], ...] = ()
    kind: str = ""  # "number", "why", ... "ontopic-unanswerable", "offtopic"
    source: str | None = None  # ask of this source only
    sentences: tuple[str, ...] = ()  # the sentences that answer it, when known


@dataclass(frozen=True)
class QuestionSet:
    """Questions asked of one index: `articles` (file name -> text) indexed alone, or, when
    None, the index or corpus the command names."""

    name: str
    cases: tuple[Case, ...]
    articles: dict[str, str] | None = None


def load_sets(paths: list[Path]) -> list[QuestionSet]:
    """The question sets of `paths`: files, or folders whose JSONL files are read in order."""
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise QABotError(
                    f"{path} holds no .jsonl question files; give files or a folder of them."
                )
            files += found
        else:
            files.append(path)
    sets = []
    for path in files:
        cases, squad = load_cases(path)
        article = path.with_suffix(".txt")
        if squad is not None:
            articles = {source: squad_article(paragraphs) for source, paragraphs in squad.items()}
            sets.append(QuestionSet(path.name, tuple(cases), articles))
        elif article.is_file():
            sets.append(
                QuestionSet(article.name, tuple(cases), {article.name: _article_text(article)})
            )
        else:
            sets.append(QuestionSet(path.name, tuple(cases)))
    return sets


def _article_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise QABotError(
            f"Cannot read the article {path} ({type(error).__name__}); save it as UTF-8 text."
        ) from None


def load_cases(path: Path) -> tuple[list[Case], dict[str, list[str]] | None]:
    """The questions of `path`, and for SQuAD the articles' paragraphs, by file name."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError) as error:
        raise QABotError(
            f"Cannot read {path} ({type(error).__name__}); give a SQuAD 2.0 "
            "JSON file or a JSONL file of questions."
        ) from None
    if path.suffix == ".json":
        return _squad_cases(raw, path)
    cases = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            question = record.get("question", record.get("q"))
            answers = record.get("answers")
            answers = [] if answers is None else answers  # none: the bot should decline
            history = tuple(record.get("history") or ())
            kind, source = record.get("kind", ""), record.get("source")
            sentences = record.get("sentences") or []
        except (json.JSONDecodeError, AttributeError, TypeError) as error:
            raise QABotError(
                f"{path} line {number} is not a question record "
                f'({error}); use {{"question": ..., "answers": [...]}}.'
            ) from None
        if (
            not isinstance(question, str)
            or not isinstance(answers, list)
            or not all(isinstance(a, str) for a in answers)
            or not isinstance(kind, str)
            or not isinstance(source, (str, type(None)))
            or not isinstance(sentences, list)
            or not all(isinstance(s, str) for s in sentences)
        ):
            raise QABotError(
                f'{path} line {number} needs "question" text and "answers" (and '
                '"sentences", when given) as lists of strings.'
            )
        case = Case(question, tuple(answers), history, kind, source, tuple(sentences))
        try:
            case_turns(case)
        except QABotError as error:
            raise QABotError(f"{path} line {number} is not a question record ({error})") from None
        cases.append(case)
    if not cases:
        raise QABotError(f"{path} holds no questions; give one JSON record per line.")
    return cases, None


def _squad_cases(raw: str, path: Path) -> tuple[list[Case], dict[str, list[str]]]:
    try:
        data = json.loads(raw)["data"]
        articles: dict[str, list[str]] = {}
        cases = []
        for number, article in enumerate(data, 1):
            source = _file_name(article.get("title") or f"article-{number}")
            articles[source] = []
            for paragraph in article["paragraphs"]:
                articles[source].append(paragraph["context"])
                for qa in paragraph["qas"]:
                    answers = (
                        ()
                        if qa.get("is_impossible")
                        else tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                    )
                    kind = "answerable" if answers else "unanswerable"
                    cases.append(Case(qa["question"], answers, kind=kind, source=source))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise QABotError(
            f"{path} is not SQuAD 2.0 JSON ({type(error).__name__}: {error})."
        ) from None
    return cases, articles


def write_squad_corpus(articles: dict[str, list[str]], folder: Path) -> Path:
    """Each SQuAD article as one file of the corpus, paragraphs separated by blank lines."""
    folder.mkdir(parents=True, exist_ok=True)
    for source, paragraphs in articles.items():
        (folder / source).write_text(squad_article(paragraphs), encoding="utf-8")
    return folder


def squad_article(paragraphs: list[str]) -> str:
    """A SQuAD article as text: its paragraphs separated by blank lines."""
    return "\n\n".join(p.strip() for p in paragraphs) + "\n"


def _file_name(title: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^\w.-]+", "_", title)).strip("._")[:80] + ".txt"


def case_turns(case: Case) -> list[Turn]:
    """The conversation a case's question follows."""
    return parse_ask_request({"question": case.question, "history": list(case.history)}).turns
