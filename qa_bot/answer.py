"""Composing the answer: the article's own sentences, numbered citations, or a polite decline.

No I/O and no model: it scores the candidate sentences that retrieval found and picks one or
two. Never a word that is not in the article, except the fixed decline message.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from .question import answer_kind, content_words
from .retrieval import PassageHit, Retrieval, SentenceHit

DECLINE = ("Sorry, I can't find the answer to that in the article, so I won't guess. "
           "Try asking about something the article covers.")
# Confidence is a logistic function of the best passage's cosine similarity. The midpoint is
# the decline threshold, chosen on the development data (see BENCHMARKS.md).
CONFIDENCE_MIDPOINT = 0.30
CONFIDENCE_SLOPE = 14.0
DECLINE_BELOW = 0.5
SECOND_SENTENCE_MARGIN = 0.05  # add a second sentence only when it scores this close to the best
MAX_ANSWER_WORDS = 60

MONTHS = ("january february march april may june july august september october november "
          "december jan feb mar apr jun jul aug sep sept oct nov dec").split()
KIND_PATTERNS = {
    "date": re.compile(r"\b(1[0-9]{3}|20[0-9]{2}|" + "|".join(MONTHS) + r"|century|centuries)\b"
                       r"|\b\d{1,2}(st|nd|rd|th)\b", re.IGNORECASE),
    "number": re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                         r"twenty|thirty|forty|fifty|hundred|hundreds|thousand|thousands|million|"
                         r"millions|billion|dozen|dozens|several)\b", re.IGNORECASE),
    "percent": re.compile(r"\d\s?%|\bper ?cent\b|\bhalf\b|\bquarter\b", re.IGNORECASE),
    "person": re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*"),
    "place": re.compile(r"\b(in|at|from|to|near|into|across)\s+(the\s+)?[A-Z][\w-]+"),
}


@dataclass(frozen=True)
class Citation:
    n: int
    source: str
    start: int
    end: int
    text: str
    quote: str
    score: float


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    answered: bool
    confidence: float
    citations: tuple[Citation, ...]

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"citations": [asdict(c) for c in self.citations]}


@dataclass(frozen=True)
class ScoredSentence:
    candidate: SentenceHit
    score: float


def confidence(retrieval: Retrieval) -> float:
    """How likely the article answers the question, from 0 to 1."""
    if not retrieval.passages:
        return 0.0
    best = max(hit.dense for hit in retrieval.passages)
    return 1.0 / (1.0 + math.exp(-CONFIDENCE_SLOPE * (best - CONFIDENCE_MIDPOINT)))


def score_sentences(question: str, retrieval: Retrieval) -> list[ScoredSentence]:
    """Candidate sentences, best answer first."""
    asked = set(content_words(question))
    kind = answer_kind(question)
    scored = []
    for candidate in retrieval.sentences:
        text = candidate.sentence.text
        said = set(content_words(text))
        overlap = len(asked & said) / len(asked) if asked else 0.0
        adds = bool(said - asked)
        score = (0.6 * candidate.dense + 0.4 * candidate.hit.dense + 0.1 * overlap
                 + 0.15 * _has_kind(kind, text, asked) - (0.0 if adds else 0.2))
        scored.append(ScoredSentence(candidate, score))
    return sorted(scored, key=lambda s: -s.score)


def compose_answer(question: str, retrieval: Retrieval) -> Answer:
    """The answer to `question` from what retrieval found, or a decline."""
    certainty = confidence(retrieval)
    ranked = score_sentences(question, retrieval)
    if certainty < DECLINE_BELOW or not ranked:
        return Answer(question, DECLINE, False, round(certainty, 4), ())
    chosen = [ranked[0]]
    if len(ranked) > 1 and ranked[0].score - ranked[1].score < SECOND_SENTENCE_MARGIN:
        words = len(ranked[0].candidate.sentence.text.split()) + len(ranked[1].candidate.sentence.text.split())
        if words <= MAX_ANSWER_WORDS:
            chosen.append(ranked[1])
    return _cite(question, chosen, certainty)


def _has_kind(kind: str | None, text: str, asked: set[str]) -> float:
    """1 when the sentence holds the kind of thing asked for, beyond the question's own words."""
    if kind is None:
        return 0.0
    for match in KIND_PATTERNS[kind].finditer(text):
        if not set(content_words(match.group(0))) <= asked or not content_words(match.group(0)):
            return 1.0
    return 0.0


def _cite(question: str, chosen: list[ScoredSentence], certainty: float) -> Answer:
    """Number citations 1..k in order of first use; one citation per passage."""
    if len({s.candidate.hit.id for s in chosen}) == 1:  # one passage: keep the article's order
        chosen = sorted(chosen, key=lambda s: s.candidate.sentence.start)
    numbers: dict[int, int] = {}
    quotes: dict[int, list[SentenceHit]] = {}
    parts = []
    for item in chosen:
        hit: PassageHit = item.candidate.hit
        n = numbers.setdefault(hit.id, len(numbers) + 1)
        quotes.setdefault(hit.id, []).append(item.candidate)
        parts.append(f"{item.candidate.sentence.text} [{n}]")
    citations = []
    for passage_id, n in numbers.items():
        used = sorted(quotes[passage_id], key=lambda c: c.sentence.start)
        hit = used[0].hit
        best = max(s.score for s in chosen if s.candidate.hit.id == passage_id)
        citations.append(Citation(
            n=n, source=hit.passage.source, start=hit.passage.start, end=hit.passage.end,
            text=hit.passage.text, quote=_join_quotes(used), score=round(best, 4),
        ))
    return Answer(question, " ".join(parts), True, round(certainty, 4), tuple(citations))


def _join_quotes(used: list[SentenceHit]) -> str:
    quote = used[0].sentence.text
    for before, after in zip(used, used[1:]):
        gap = " " if after.position == before.position + 1 else " … "
        quote += gap + after.sentence.text
    return quote
