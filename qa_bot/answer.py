"""Composing the answer: the article's own sentences, numbered citations, or a polite decline.

No I/O and no model: it scores the candidate sentences retrieval found and quotes the best one,
with its neighbour when that scores nearly as well (answers often run over two sentences).
Never a word that is not in the article, except the fixed decline message. The constants were
chosen on pooled development data and checked on held-out halves (see BENCHMARKS.md).
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from .corpus import DocumentInfo
from .question import REPORTING_VERB, asks_for_source, words
from .retrieval import Retrieval, SentenceHit

DECLINE = ("Sorry, I can't find the answer to that in the article, so I won't guess. "
           "Try asking about something the article covers.")
OVERLAP_WEIGHT = 0.5  # sentence score = cosine + OVERLAP_WEIGHT * IDF-weighted word overlap
# A question asking who reported something wants the sentence that names the source
# ("as reported by X", "according to X", "X said"), however little else it shares.
ATTRIBUTION = re.compile(r"\b(according to|" + REPORTING_VERB + r" by)\s+(the\s+)?[A-Z]"
                         r"|\b[A-Z][\w.-]+\s+" + REPORTING_VERB + r"\b")
ATTRIBUTION_BONUS = 0.3
NEIGHBOUR_MARGIN = 0.3  # quote the best sentence's neighbour too when it scores this close
# Confidence is a logistic function of the best sentence similarity; its midpoint is the
# decline threshold: off-topic questions score below 0.17, article questions above 0.3.
CONFIDENCE_MIDPOINT = 0.25
CONFIDENCE_SLOPE = 12.0
DECLINE_BELOW = 0.5


@dataclass(frozen=True)
class Citation:
    """A passage of a source. `text == source_text[start:end]`; each quote span slices one
    quoted sentence out of the source text. A related passage quotes nothing."""

    n: int
    source: str
    start: int
    end: int
    text: str
    quote: str
    score: float
    quote_spans: tuple[tuple[int, int], ...] = ()
    title: str = ""
    published: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class ShortAnswer:
    """The exact phrase that answers the question: `source_text[start:end] == text`."""

    text: str
    source: str
    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    answered: bool
    confidence: float
    citations: tuple[Citation, ...]
    short_answer: ShortAnswer | None = None
    related: tuple[Citation, ...] = ()
    id: str = ""  # fresh for every answer given, set by the bot

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class ScoredSentence:
    candidate: SentenceHit
    score: float


def score_sentences(question: str, retrieval: Retrieval) -> list[ScoredSentence]:
    """Candidate sentences, best answer first."""
    base = {(c.hit.id, c.position): c.dense + OVERLAP_WEIGHT * c.overlap
            for c in retrieval.sentences}
    wants_source = asks_for_source(question)
    scored = []
    for candidate in retrieval.sentences:
        score = base[candidate.hit.id, candidate.position]
        if wants_source and ATTRIBUTION.search(candidate.sentence.text):
            # "As reported by X" vouches for the claim next to it: take the claim's score.
            nearby = [base.get((candidate.hit.id, candidate.position + step), score)
                      for step in (-1, 1)]
            score = max(score, *nearby) + ATTRIBUTION_BONUS
        scored.append(ScoredSentence(candidate, score))
    return sorted(scored, key=lambda s: -s.score)


def confidence(question: str, retrieval: Retrieval, best: SentenceHit | None) -> float:
    """How likely the article answers the question, from 0 to 1.

    A number in the question that the best passage does not contain ("in 1066", "the 9th")
    means the article is talking about something else: confidence 0."""
    if best is None:
        return 0.0
    passage = best.hit.passage.text.lower()
    if any(w not in passage for w in words(question) if any(c.isdigit() for c in w)):
        return 0.0
    return 1.0 / (1.0 + math.exp(-CONFIDENCE_SLOPE * (retrieval.on_topic - CONFIDENCE_MIDPOINT)))


def compose_answer(question: str, retrieval: Retrieval,
                   decline_below: float = DECLINE_BELOW) -> Answer:
    """The answer to `question` from what retrieval found, or a decline when confidence is
    under `decline_below` (evaluation passes 0 to see what would have been said)."""
    ranked = score_sentences(question, retrieval)
    best = ranked[0] if ranked else None
    certainty = confidence(question, retrieval, best.candidate if best else None)
    if best is None or certainty < decline_below:
        return Answer(question, DECLINE, False, round(certainty, 4), ())
    chosen = [best]
    neighbours = [s for s in ranked if s.candidate.hit.id == best.candidate.hit.id
                  and abs(s.candidate.position - best.candidate.position) == 1]
    if neighbours and best.score - neighbours[0].score < NEIGHBOUR_MARGIN:
        chosen = sorted([best, neighbours[0]], key=lambda s: s.candidate.position)
    return _cite(question, chosen, certainty, retrieval.documents)


def _cite(question: str, chosen: list[ScoredSentence], certainty: float,
          documents: dict[str, DocumentInfo]) -> Answer:
    """Number citations 1..k in order of first use: one citation per passage quoted."""
    numbers: dict[int, int] = {}
    used: dict[int, list[ScoredSentence]] = {}
    parts = []
    for item in chosen:
        passage_id = item.candidate.hit.id
        n = numbers.setdefault(passage_id, len(numbers) + 1)
        used.setdefault(passage_id, []).append(item)
        parts.append(f"{item.candidate.sentence.text} [{n}]")
    citations = []
    for passage_id, n in numbers.items():
        items = sorted(used[passage_id], key=lambda i: i.candidate.position)
        passage = items[0].candidate.hit.passage
        document = documents.get(passage.source) or DocumentInfo("")
        citations.append(Citation(
            n=n, source=passage.source, start=passage.start, end=passage.end, text=passage.text,
            quote=_join_quotes([i.candidate for i in items]),
            score=round(max(i.score for i in items), 4),
            quote_spans=tuple((i.candidate.sentence.start, i.candidate.sentence.end)
                              for i in items),
            title=document.title, published=document.published, author=document.author,
        ))
    return Answer(question, " ".join(parts), True, round(certainty, 4), tuple(citations))


def _join_quotes(used: list[SentenceHit]) -> str:
    """The sentences used from one passage, in order, verbatim: adjacent sentences are one
    slice of the passage, with whatever separates them there; " … " where some were skipped."""
    passage = used[0].hit.passage
    quote = used[0].sentence.text
    for before, after in zip(used, used[1:]):
        if after.position == before.position + 1:
            quote += passage.text[before.sentence.end - passage.start:after.sentence.end - passage.start]
        else:
            quote += " … " + after.sentence.text
    return quote
