"""Editors' statistics from the question log: what readers asked, what the article left
unanswered, and which answers readers found unhelpful.

Questions are grouped by their normalised text (case, punctuation and spacing ignored) and shown
as most readers typed them, with control characters removed: a logged question is untrusted
text and must not be able to drive an editor's terminal.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

from qa_bot.questionlog.log import LoggedQuestion

LISTED = 20  # questions listed in each ranking
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class QuestionCount:
    question: str
    count: int


@dataclass(frozen=True)
class Unhelpful:
    time: str
    question: str
    answer: str
    comment: str | None


@dataclass(frozen=True)
class Day:
    day: str
    questions: int
    answered: int


@dataclass(frozen=True)
class Stats:
    questions: int
    answered: int
    declined_count: int
    readers: int  # distinct readers per day, added up over the days
    top: list[QuestionCount]
    declined: list[QuestionCount]
    feedback: dict[str, int]
    unhelpful_answers: list[Unhelpful]
    days: list[Day]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def text(self) -> str:
        """The report an editor reads in a terminal."""
        readers = f"{self.readers} reader{'s' if self.readers != 1 else ''}"
        lines = [
            f"{self.questions} questions from {readers} (counted per day): "
            f"{self.answered} answered, {self.declined_count} declined",
            f"feedback: {self.feedback['helpful']} helpful, {self.feedback['unhelpful']} unhelpful",
            "",
        ]
        lines += _ranking("Most asked", self.top)
        lines += _ranking(
            "Declined: what readers wanted that the article does not say", self.declined
        )
        if self.unhelpful_answers:
            lines.append("Rated unhelpful")
            for item in self.unhelpful_answers:
                lines.append(f"  {item.time[:16].replace('T', ' ')}  {item.question}")
                lines.append(f"      answer: {item.answer}")
                if item.comment:
                    lines.append(f"      comment: {item.comment}")
        return "\n".join(lines).rstrip() + "\n"


def summarise(logged: list[LoggedQuestion]) -> Stats:
    """Counts and rankings of the logged questions."""
    answered = [q for q in logged if q.answered]
    days: dict[str, list[LoggedQuestion]] = {}
    for question in logged:
        days.setdefault(question.time[:10], []).append(question)
    rated = [q for q in logged if q.helpful is not None]
    unhelpful = [
        Unhelpful(
            q.time,
            printable(q.question),
            printable(q.answer),
            printable(q.comment) if q.comment else None,
        )
        for q in reversed(rated)
        if not q.helpful
    ][:LISTED]
    return Stats(
        questions=len(logged),
        answered=len(answered),
        declined_count=len(logged) - len(answered),
        readers=sum(len({q.reader for q in group}) for group in days.values()),
        top=_ranked(logged),
        declined=_ranked([q for q in logged if not q.answered]),
        feedback={
            "helpful": sum(1 for q in rated if q.helpful),
            "unhelpful": sum(1 for q in rated if not q.helpful),
        },
        unhelpful_answers=unhelpful,
        days=[
            Day(day, len(group), sum(1 for q in group if q.answered))
            for day, group in sorted(days.items())
        ],
    )


def normalise(question: str) -> str:
    """The grouping key: words only, case-folded."""
    return " ".join(WORD.findall(question.casefold()))


def printable(text: str) -> str:
    """Text safe to print: control and format characters (escape sequences, bidi overrides)
    removed, runs of whitespace made one space."""
    kept = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    return " ".join(kept.split())


def write_chart(stats: Stats, folder: Path) -> Path:
    """A PNG of questions per day (bars) with the share answered (line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "questions-per-day.png"
    days = _every_day(stats.days)
    labels = [d.day[5:] for d in days]
    counts = [d.questions for d in days]
    rates = [100 * d.answered / d.questions if d.questions else math.nan for d in days]
    figure, bars = plt.subplots(figsize=(max(6.0, 0.35 * len(labels) + 2), 4), dpi=120)
    bars.bar(labels, counts, color="#93c5fd", label="questions")
    bars.set_ylabel("questions")
    bars.set_xlabel("day (UTC)")
    bars.tick_params(axis="x", labelrotation=60 if len(labels) > 10 else 0)
    rate = bars.twinx()
    rate.plot(labels, rates, color="#1d4ed8", marker="o", label="answered")
    rate.set_ylim(0, 105)
    rate.set_ylabel("answered (%)")
    bars.set_title(f"Questions per day and share answered ({stats.questions} questions)")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def _every_day(days: list[Day]) -> list[Day]:
    """The days from the first to the last, those without questions included."""
    if not days:
        return []
    known = {d.day: d for d in days}
    first, last = date.fromisoformat(days[0].day), date.fromisoformat(days[-1].day)
    every = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [known.get(d.isoformat(), Day(d.isoformat(), 0, 0)) for d in every]


def _ranked(logged: list[LoggedQuestion]) -> list[QuestionCount]:
    """Question groups by count, each shown in the form most readers typed."""
    groups: dict[str, Counter[str]] = {}
    for question in logged:
        text = printable(question.question)
        groups.setdefault(normalise(text) or text, Counter())[text] += 1
    ranked = sorted(
        groups.values(), key=lambda forms: (-sum(forms.values()), forms.most_common(1)[0][0])
    )
    return [
        QuestionCount(forms.most_common(1)[0][0], sum(forms.values())) for forms in ranked[:LISTED]
    ]


def _ranking(title: str, counts: list[QuestionCount]) -> list[str]:
    if not counts:
        return []
    return [title, *(f"  {c.count:5}  {c.question}" for c in counts), ""]
