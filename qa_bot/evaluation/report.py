"""The figures of an evaluation: pooled, per article, and the risk-coverage plot."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from qa_bot.evaluation.questions import ON_TOPIC
from qa_bot.evaluation.scoring import Result


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


def _share(part: list[Result], whole: list[Result]) -> float:
    return len(part) / len(whole) if whole else 0.0


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"
