"""`python -m qa_bot eval`: answer quality on questions with known answers.

Reads SQuAD 2.0 JSON (answerable and unanswerable questions over articles' paragraphs: each
article becomes one source, and its questions are asked of it) or JSONL of {"question",
"answers", "sentences"?, "history"?, "kind"?, "source"?} ("q" for "question", as in the shared
data sets); a question without answers should be declined. A JSONL file with an article of the
same name beside it (`story.jsonl` and `story.txt`) asks about that article indexed alone, as a
newsroom embeds one article per page; several files (or folders of them) are each indexed
alone, then pooled, and reported per article too.
An answer counts as right when it contains one of the accepted answers (case-insensitive); a
short answer when it contains one after SQuAD's normalisation (lower case, no punctuation, no
articles). `sentences` are the article's sentences that answer: a quote holding one of them
quotes the answering sentence. `kind` (for example "offtopic" or "ontopic-unanswerable")
groups the decline figures.
"""

from __future__ import annotations

import json
import re
import statistics
import string
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from qa_bot.answer.ask_request import parse_ask_request
from qa_bot.answer.bot import QABot
from qa_bot.answer.compose import compose_answer
from qa_bot.answer.question import Turn
from qa_bot.answer.result import Answer
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


@dataclass(frozen=True)
class Result:
    question: str
    answers: tuple[str, ...]
    answer: str
    answered: bool
    confidence: float
    contains_answer: bool
    undeclined_correct: bool  # whether the answer it would give without declining is right
    hit_at_1: bool
    hit_at_3: bool
    words: int
    seconds: float
    kind: str = ""
    short_answer: str | None = None
    short_correct: bool = False  # the short answer contains an accepted answer (normalised)
    citation_faults: int = 0  # offsets that do not slice their source text
    article: str = ""  # the article (or file) the question was asked of
    quotes_answering_sentence: bool | None = None  # None: the answering sentences are unknown

    @property
    def on_topic(self) -> bool:
        """An unanswerable question on the article's subject (not off-topic)."""
        return not self.answers and self.kind in ON_TOPIC

    @property
    def wants_short(self) -> bool:
        """An answerable question whose accepted answers include a short one."""
        return any(0 < len(a.split()) <= SHORT_ANSWER_WORDS for a in self.answers)


@dataclass(frozen=True)
class Report:
    questions: int
    answerable: int
    unanswerable: int
    answered: float  # share of answerable questions answered
    containment: float  # share of answerable questions whose answer contains a gold answer
    hit_at_1: float
    hit_at_3: float
    mean_words: float  # over answered answerable questions
    declined_unanswerable: float
    median_ms: float
    p90_ms: float
    short_questions: int = 0  # answerable questions with a short accepted answer
    short_accuracy: float = 0.0  # of those, share whose short answer holds an accepted one
    short_given: float = 0.0  # of those, share given a short answer at all
    declined_by_kind: dict[str, tuple[int, int]] | None = None  # kind -> (declined, of)
    separation_by_kind: dict[str, float] | None = None  # kind -> AUC against the answerable
    citation_faults: int = 0
    answered_wrong: float = 0.0  # answerable questions answered without an accepted answer
    answering_sentence: float | None = None  # of quotes with known answering sentences
    auc_on_topic: float | None = None  # answerable against on-topic unanswerable

    def table(self) -> str:
        rows = [
            (
                "questions",
                f"{self.questions} ({self.answerable} answerable, "
                f"{self.unanswerable} unanswerable)",
            ),
            ("answered (answerable)", _percent(self.answered)),
            ("answered right (answerable)", _percent(self.containment)),
            ("answered wrong (answerable)", _percent(self.answered_wrong)),
            (
                "wrongly declined (answerable)",
                _percent(1 - self.answered if self.answerable else 0),
            ),
            (
                "quotes the answering sentence",
                "-" if self.answering_sentence is None else _percent(self.answering_sentence),
            ),
            ("passage hit@1", _percent(self.hit_at_1)),
            ("passage hit@3", _percent(self.hit_at_3)),
            ("mean answer words", f"{self.mean_words:.1f}"),
            ("declined unanswerable", _percent(self.declined_unanswerable)),
            *[
                (f"declined {kind}", f"{_percent(declined / total)} ({declined} of {total})")
                for kind, (declined, total) in (self.declined_by_kind or {}).items()
                if set(self.declined_by_kind or {}) != {"unanswerable"}
            ],
            (
                "separation (AUC)",
                ", ".join(
                    f"{kind} {auc:.2f}" for kind, auc in (self.separation_by_kind or {}).items()
                )
                or "-",
            ),
            (
                "AUC, answerable vs on-topic",
                "-" if self.auc_on_topic is None else f"{self.auc_on_topic:.2f}",
            ),
            (
                "short answer right",
                f"{_percent(self.short_accuracy)} of {self.short_questions} "
                f"questions with a short accepted answer (given for "
                f"{_percent(self.short_given)})",
            ),
            ("citation faults", str(self.citation_faults)),
            ("latency per question", f"median {self.median_ms:.1f} ms, p90 {self.p90_ms:.1f} ms"),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


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


def evaluate(bot: QABot, cases: list[Case] | tuple[Case, ...], article: str = "") -> list[Result]:
    """Ask every case of `bot`; `article` names what was asked of (the case's source when it
    has one), for the figures per article."""
    results = []
    for case in cases:
        began = time.perf_counter()
        answer, retrieval, read = bot.ask_with_evidence(
            case.question, case_turns(case), case.source
        )
        seconds = time.perf_counter() - began
        top = [hit.passage.text for hit in retrieval.passages[:3]]
        undeclined = compose_answer(
            answer.question, retrieval, read, bot.reader.calibration, decline_below=0.0
        )
        short = answer.short_answer.text if answer.short_answer else None
        results.append(
            Result(
                question=case.question,
                answers=case.answers,
                answer=answer.answer,
                answered=answer.answered,
                confidence=answer.confidence,
                contains_answer=answer.answered and _contains(answer.answer, case.answers),
                undeclined_correct=bool(case.answers)
                and _contains(undeclined.answer, case.answers),
                hit_at_1=_contains(" ".join(top[:1]), case.answers),
                hit_at_3=any(_contains(text, case.answers) for text in top),
                words=len(answer.answer.split()) if answer.answered else 0,
                seconds=seconds,
                kind=case.kind or ("answerable" if case.answers else "unanswerable"),
                short_answer=short,
                short_correct=short is not None and short_contains(short, case.answers),
                citation_faults=_citation_faults(undeclined),
                article=case.source or article,
                quotes_answering_sentence=(
                    any(sentence in answer.answer for sentence in case.sentences)
                    if case.sentences and case.answers and answer.answered
                    else None
                ),
            )
        )
    return results


def case_turns(case: Case) -> list[Turn]:
    """The conversation a case's question follows."""
    return parse_ask_request({"question": case.question, "history": list(case.history)}).turns


def summarise(results: list[Result]) -> Report:
    answerable = [r for r in results if r.answers]
    unanswerable = [r for r in results if not r.answers]
    answered = [r for r in answerable if r.answered]
    short = [r for r in answerable if r.wants_short]
    kinds = dict.fromkeys(r.kind for r in unanswerable)
    on_topic = [r for r in unanswerable if r.on_topic]
    judged = [r for r in answered if r.quotes_answering_sentence is not None]
    latencies = sorted(r.seconds * 1000 for r in results)
    return Report(
        questions=len(results),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        answered=_share(answered, answerable),
        containment=_share([r for r in answerable if r.contains_answer], answerable),
        hit_at_1=_share([r for r in answerable if r.hit_at_1], answerable),
        hit_at_3=_share([r for r in answerable if r.hit_at_3], answerable),
        mean_words=statistics.fmean([r.words for r in answered]) if answered else 0.0,
        declined_unanswerable=_share([r for r in unanswerable if not r.answered], unanswerable),
        median_ms=statistics.median(latencies) if latencies else 0.0,
        p90_ms=statistics.quantiles(latencies, n=10, method="inclusive")[-1]
        if len(latencies) > 1
        else (latencies or [0.0])[0],
        short_questions=len(short),
        short_accuracy=_share([r for r in short if r.short_correct], short),
        short_given=_share([r for r in short if r.short_answer is not None], short),
        declined_by_kind={
            kind: (
                sum(1 for r in unanswerable if r.kind == kind and not r.answered),
                sum(1 for r in unanswerable if r.kind == kind),
            )
            for kind in kinds
        },
        separation_by_kind={
            kind: separation(answerable, [r for r in unanswerable if r.kind == kind])
            for kind in kinds
            if answerable
        },
        citation_faults=sum(r.citation_faults for r in results),
        answered_wrong=_share([r for r in answered if not r.contains_answer], answerable),
        answering_sentence=_share([r for r in judged if r.quotes_answering_sentence], judged)
        if judged
        else None,
        auc_on_topic=separation(answerable, on_topic) if answerable and on_topic else None,
    )


def by_article(results: list[Result]) -> dict[str, Report]:
    """The report of each article's questions, in the order first asked."""
    articles = dict.fromkeys(r.article for r in results)
    return {
        article: summarise([r for r in results if r.article == article]) for article in articles
    }


def article_table(reports: dict[str, Report]) -> str:
    """One line per article: its questions, answers right, wrong, wrongly declined, on-topic
    questions declined and the AUC against them."""
    header = ("article", "questions", "right", "wrong", "declined", "on-topic declined", "AUC")
    rows = [header]
    for article, report in reports.items():
        on_topic = {
            kind: counts
            for kind, counts in (report.declined_by_kind or {}).items()
            if kind in ON_TOPIC
        }
        declined, total = (
            sum(c[0] for c in on_topic.values()),
            sum(c[1] for c in on_topic.values()),
        )
        rows.append(
            (
                article,
                str(report.questions),
                _percent(report.containment) if report.answerable else "-",
                _percent(report.answered_wrong) if report.answerable else "-",
                _percent(1 - report.answered) if report.answerable else "-",
                f"{_percent(declined / total)} of {total}" if total else "-",
                "-" if report.auc_on_topic is None else f"{report.auc_on_topic:.2f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        )
        for row in rows
    )


def separation(answerable: list[Result], unanswerable: list[Result]) -> float:
    """The chance that an answerable question gets a higher confidence than an unanswerable one
    (ties count half): the area under the ROC curve. No threshold declines nearly all of one
    kind and nearly none of the other unless this is near 1."""
    pairs = [
        (a.confidence > u.confidence) + 0.5 * (a.confidence == u.confidence)
        for a in answerable
        for u in unanswerable
    ]
    return sum(pairs) / len(pairs)


def risk_coverage(results: list[Result]) -> list[tuple[float, float, float]]:
    """(threshold, coverage, accuracy) as the decline threshold moves over every confidence.

    Coverage is the share of all questions answered; accuracy is the share of answered ones
    that are right (an answered unanswerable question is wrong)."""
    points = []
    for threshold in sorted({r.confidence for r in results}):
        kept = [r for r in results if r.confidence >= threshold]
        right = [r for r in kept if r.undeclined_correct]
        points.append((threshold, len(kept) / len(results), len(right) / len(kept)))
    return points


def write_report(
    results: list[Result], report: Report, folder: Path, decline_below: float
) -> list[Path]:
    """Per-question results as JSONL and the risk-coverage plot as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    jsonl = folder / "results.jsonl"
    jsonl.write_text(
        "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in results), encoding="utf-8"
    )
    points = risk_coverage(results)
    figure, axes = plt.subplots(figsize=(6, 4.2), dpi=110)
    axes.plot([p[1] for p in points], [p[2] for p in points], drawstyle="steps-post")
    current = [p for p in points if p[0] >= decline_below][:1]
    if current:
        axes.scatter(
            [current[0][1]],
            [current[0][2]],
            color="crimson",
            zorder=3,
            label=f"decline below {decline_below:.2f}",
        )
        axes.legend(loc="lower left")
    axes.set_xlabel("share of questions answered (coverage)")
    axes.set_ylabel("share of answers that are right")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.02)
    axes.grid(alpha=0.3)
    axes.set_title(f"Risk–coverage: {report.questions} questions")
    png = folder / "risk-coverage.png"
    figure.tight_layout()
    figure.savefig(png)
    plt.close(figure)
    return [jsonl, png]


def _citation_faults(answer: Answer) -> int:
    """Offsets in the answer that do not slice the text they claim to (should be none)."""
    faults = 0
    for citation in (*answer.citations, *answer.related):
        for start, end in citation.quote_spans:
            if not citation.start <= start < end <= citation.end:
                faults += 1
        quoted = [
            citation.text[s - citation.start : e - citation.start] for s, e in citation.quote_spans
        ]
        faults += sum(1 for piece in quoted if piece not in citation.quote)
    short = answer.short_answer
    if short and not any(
        c.source == short.source
        and s <= short.start
        and short.end <= e
        and c.text[short.start - c.start : short.end - c.start] == short.text
        for c in answer.citations
        for s, e in c.quote_spans
    ):
        faults += 1
    return faults


def normalise(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(c for c in text.lower() if c not in string.punctuation and c not in "’‘“”")
    return " ".join(w for w in text.split() if w not in ("a", "an", "the"))


def short_contains(short: str, answers: tuple[str, ...]) -> bool:
    found = f" {normalise(short)} "
    return any(normalise(a) and f" {normalise(a)} " in found for a in answers)


def _contains(text: str, answers: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(a.lower() in lowered for a in answers if a)


def _share(part: list[Result], whole: list[Result]) -> float:
    return len(part) / len(whole) if whole else 0.0


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"
