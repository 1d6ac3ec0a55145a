"""Composing the answer: the article's own sentences, numbered citations, or a polite decline.

No I/O and no model: the reading model (reader.py) has read the candidate sentences retrieval
found. Each sentence's confidence combines the reader's logit with the grounding checks'
probability (grounding.py and the regression below), as calibration/fit_reader.py fitted
them; the most confident is quoted, with its neighbour when the reader finds that nearly as
likely (answers often run over two sentences), and the reader's span in it is the short
answer.
Never a word that is not in the article, except the fixed decline message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from qa_bot.answer.fitted import logistic, regression
from qa_bot.answer.grounding import Evidence, ground
from qa_bot.answer.hits import Retrieval, SentenceHit
from qa_bot.answer.question import (
    REPORTING_VERB,
    asks_about_headline,
    asks_for_headline,
    asks_for_source,
    content_words,
    missing_numbers,
    names,
)
from qa_bot.answer.reader import Calibration, Reading
from qa_bot.answer.result import Answer, Citation, ShortAnswer
from qa_bot.ingest.annotation import HASHTAG_LINE
from qa_bot.ingest.chunking import Passage
from qa_bot.ingest.corpus import DocumentInfo

DECLINE = (
    "Sorry, I can't find the answer to that in the article, so I won't guess. "
    "Try asking about something the article covers."
)
OVERLAP_WEIGHT = 0.5  # sentence score = cosine + OVERLAP_WEIGHT * IDF-weighted word overlap
# A question asking who reported something wants the sentence that names the source
# ("as reported by X", "according to X", "X said"), however little else it shares.
ATTRIBUTION = re.compile(
    r"\b(according to|" + REPORTING_VERB + r" by)\s+(the\s+)?[A-Z]"
    r"|\b[A-Z][\w.-]+\s+" + REPORTING_VERB + r"\b"
)
ATTRIBUTION_BONUS = 0.3
TYPE_BONUS = 0.15  # a sentence holding the kind of phrase asked for ranks above one without
RELATED_PASSAGES = 3
# The reader reads this many candidates, the best by cosine + overlap: on the fit half the
# sentence it picks held the answer as often from 4, 8, 12 or all of them (BENCHMARKS.md, C3).
READ_CANDIDATES = 8
NEIGHBOUR_LOGIT_MARGIN = 1.0  # quote the best sentence's neighbour too when the reader's
#                               logit for it is this close
SOURCE_MIDPOINT, SOURCE_SLOPE = 0.25, 12.0  # off-topic questions score below 0.17 (first version)


@dataclass(frozen=True)
class ScoredSentence:
    evidence: Evidence
    score: float
    names_source: bool = False  # the question asks who reported it, and the sentence says

    @property
    def candidate(self) -> SentenceHit:
        return self.evidence.candidate


def prose_candidates(question: str, retrieval: Retrieval) -> list[SentenceHit]:
    """The sentences retrieval found that may be quoted: article prose, not headlines or tag
    lines, unless the question is about the headline."""
    headline_ok = asks_about_headline(question)
    return [c for c in retrieval.sentences if c.notes.is_prose or headline_ok]


def retrieval_score(candidate: SentenceHit) -> float:
    return candidate.dense + OVERLAP_WEIGHT * candidate.overlap


def score_sentences(question: str, retrieval: Retrieval) -> list[ScoredSentence]:
    """Candidate sentences of article prose (not headlines or tag lines), best answer first,
    each with the evidence that it answers the question."""
    candidates = asked_headline(question, retrieval) or prose_candidates(question, retrieval)
    base = {(c.hit.id, c.position): retrieval_score(c) for c in candidates}
    wants_source = asks_for_source(question)
    scored = []
    for evidence in ground(question, retrieval, candidates):
        candidate = evidence.candidate
        score = base[candidate.hit.id, candidate.position]
        names_source = wants_source and bool(ATTRIBUTION.search(candidate.sentence.text))
        if names_source:
            # "As reported by X" vouches for the claim next to it: take the claim's score.
            nearby = [
                base.get((candidate.hit.id, candidate.position + step), score) for step in (-1, 1)
            ]
            score = max(score, *nearby) + ATTRIBUTION_BONUS
        if evidence.typed:
            score += TYPE_BONUS
        scored.append(ScoredSentence(evidence, score, names_source))
    return sorted(scored, key=lambda s: -s.score)


def features(evidence: Evidence, retrieval: Retrieval) -> dict[str, float]:
    """The grounding regression's inputs, by name. A follow-up's sentence counts as close as it
    is to the follow-up or to the question it follows ("By when?")."""
    candidate = evidence.candidate
    return {
        "on_topic": retrieval.on_topic,
        "dense": max(candidate.dense, candidate.context or 0.0),
        "sentence_cover": evidence.sentence_cover,
        "passage_cover": evidence.passage_cover,
        "unknown": evidence.unknown,
        "missing_name": float(evidence.missing_name),
        "type_missing": float(evidence.type_missing),
        "phrase_fit": evidence.phrase_fit,
        "noun_match": evidence.noun_match,
        "meaning_cover": evidence.meaning_cover,
        "weakest_match": evidence.weakest_match,
        "piece_weakest": evidence.piece_weakest,
        "piece_cover": evidence.piece_cover,
    }


def confidence(question: str, retrieval: Retrieval, best: ScoredSentence | None) -> float:
    """The grounding checks' probability that the article answers the question, from 0 to 1: a
    logistic regression over `features`, fitted by calibration/fit_confidence.py into
    `qa_bot/models/grounding/confidence.json` (one input of the reader's confidence), unless a
    rule decides (`ruled_out`, `source_floor`, the headline asked for)."""
    if best is None or ruled_out(question, best):
        return 0.0
    if any(best.candidate is c for c in asked_headline(question, retrieval)):
        return 1.0
    fitted = regression("grounding/confidence").probability(features(best.evidence, retrieval))
    return max(fitted, source_floor(retrieval, best))


def asked_headline(question: str, retrieval: Retrieval) -> list[SentenceHit]:
    """The headline's sentences when the question asks for the headline itself and one
    document's headline was found (with several articles in scope, which one is meant?)."""
    if not asks_for_headline(question):
        return []
    found = [c for c in retrieval.sentences if is_headline(c, retrieval.documents)]
    return found if len({c.hit.passage.source for c in found}) == 1 else []


def is_headline(candidate: SentenceHit, documents: dict[str, DocumentInfo]) -> bool:
    """A sentence of its document's headline: set apart from the prose, not a tag line, and
    part of the title the document gives (not a first line that only looks like one, such as
    a photo credit on a page whose title is in its metadata)."""
    text = candidate.sentence.text.strip().lstrip("#").strip()
    return (
        not candidate.notes.is_prose
        and not HASHTAG_LINE.match(candidate.sentence.text)
        and bool(text)
        and text in documents[candidate.hit.passage.source].title
    )


def ruled_out(question: str, best: ScoredSentence) -> bool:
    """Whether the best sentence is no answer whatever the weights say. Four checks are rules:
    a number the question names that the best passage does not hold ("in 1066", "the 9th
    century", however written: "the ninth century") means the article is talking about
    something else; a question asking for a number or a date is not answered by a sentence
    holding none; one asking what someone said, by a sentence reporting no statement; and one
    about what is to come, by a sentence with no word of the future. A "question" without a
    single word ("🙂🙂", "???") asks nothing an article could answer."""
    passage = best.candidate.hit.passage.text
    return (
        best.evidence.ruled_out
        or bool(missing_numbers(question, passage))
        or not any(c.isalnum() for c in question)
    )


def source_floor(retrieval: Retrieval, best: ScoredSentence) -> float:
    """The least confidence of a sentence naming the source a "Who reported it?" question asks
    for: it answers whenever the question is on topic. The fit data has no such questions, so
    this keeps the rule of the first version (from the best similarity, midpoint 0.25)."""
    if not best.names_source:
        return 0.0
    return logistic(SOURCE_SLOPE * (retrieval.on_topic - SOURCE_MIDPOINT))


@dataclass(frozen=True)
class ReadSentence:
    """A candidate sentence and what the reader made of it."""

    candidate: SentenceHit
    reading: Reading


def reading_candidates(question: str, retrieval: Retrieval) -> list[SentenceHit]:
    """The sentences the reader reads: the READ_CANDIDATES best of `prose_candidates` by
    cosine and word overlap."""
    return sorted(prose_candidates(question, retrieval), key=lambda c: -retrieval_score(c))[
        :READ_CANDIDATES
    ]


def reading_question(question: str, previous: str | None) -> str:
    """What the reader reads as the question: a follow-up, then the question it follows (in
    this order its span answers what is asked now: "When did they arrive?" gets the date)."""
    return f"{question} {previous}" if previous else question


def compose_answer(
    question: str,
    retrieval: Retrieval,
    read: list[ReadSentence],
    calibration: Calibration,
    decline_below: float | None = None,
) -> Answer:
    """The answer to `question` from the sentences the reader read, or a decline when
    confidence is under `decline_below` (the calibration's; evaluation passes 0 to see what
    would have been said)."""
    headline = asked_headline(question, retrieval)
    if headline:  # the whole headline is the answer
        return _cite(question, [(c, 1.0) for c in headline], 1.0, retrieval.documents)
    threshold = calibration.decline_below if decline_below is None else decline_below
    certainties = [
        calibration.confidence(r.reading.logit, g)
        for r, g in zip(read, grounded_confidences(question, retrieval, read))
    ]
    best, certainty = max(zip(read, certainties), key=lambda pair: pair[1], default=(None, 0.0))
    if best is None or certainty < threshold:
        return Answer(
            question,
            decline_message(question, retrieval),
            False,
            round(certainty, 4),
            (),
            related=related_passages(retrieval),
        )
    quoted = with_neighbour(best, read)
    # In the order of the text, the best sentence's passage first.
    in_order = sorted(
        quoted, key=lambda r: (r.candidate.hit.id != best.candidate.hit.id, r.candidate.position)
    )
    answer = _cite(
        question, [(r.candidate, r.reading.logit) for r in in_order], certainty, retrieval.documents
    )
    return replace(answer, short_answer=short_answer(best))


def grounded_confidences(
    question: str, retrieval: Retrieval, read: list[ReadSentence]
) -> list[float]:
    """The grounding checks' probability that each read sentence answers (0 when a rule rules
    it out): the second input of `confidence`, beside the reader's logit."""
    scored = {
        (s.candidate.hit.id, s.candidate.position): s for s in score_sentences(question, retrieval)
    }
    return [
        confidence(question, retrieval, scored.get((r.candidate.hit.id, r.candidate.position)))
        for r in read
    ]


def with_neighbour(best: ReadSentence, read: list[ReadSentence]) -> list[ReadSentence]:
    """The best sentence, and its likelier neighbour when the reader finds it nearly as likely
    to answer."""
    neighbours = sorted(
        (
            r
            for r in read
            if r.candidate.hit.id == best.candidate.hit.id
            and abs(r.candidate.position - best.candidate.position) == 1
        ),
        key=lambda r: -r.reading.logit,
    )
    if neighbours and best.reading.logit - neighbours[0].reading.logit < NEIGHBOUR_LOGIT_MARGIN:
        return [best, neighbours[0]]
    return [best]


def short_answer(best: ReadSentence) -> ShortAnswer | None:
    """The reader's span in the best sentence, in whole words."""
    span = best.reading.span
    if span is None:
        return None
    sentence = best.candidate.sentence
    passage = best.candidate.hit.passage
    start, end = sentence.start + span[0], sentence.start + span[1]
    return ShortAnswer(
        passage.text[start - passage.start : end - passage.start], passage.source, start, end
    )


def decline_message(question: str, retrieval: Retrieval) -> str:
    """The polite decline, naming what the article never mentions when the question names it."""
    absent = absent_names(question, retrieval)
    if absent:
        return (
            f"The article doesn't mention {_quoted(absent)}, so I can't answer that. "
            "The passages below are the closest it comes."
        )
    return DECLINE


def absent_names(question: str, retrieval: Retrieval) -> list[str]:
    """The names the question asks about that the article never uses, not one of their words:
    "NATO", "the White House". A word close in meaning does not stand for a name."""
    return [
        name
        for name in names(question)
        if content_words(name) and set(content_words(name)) <= retrieval.unseen_words
    ]


def related_passages(retrieval: Retrieval) -> tuple[Citation, ...]:
    """The passages closest to the question, offered as related reading, not as an answer."""
    return tuple(
        _citation(n, hit.passage, retrieval.documents, score=hit.dense)
        for n, hit in enumerate(retrieval.passages[:RELATED_PASSAGES], 1)
    )


def _cite(
    question: str,
    chosen: list[tuple[SentenceHit, float]],
    certainty: float,
    documents: dict[str, DocumentInfo],
) -> Answer:
    """Number citations 1..k in order of first use: one citation per passage quoted."""
    numbers: dict[int, int] = {}
    used: dict[int, list[tuple[SentenceHit, float]]] = {}
    parts = []
    for (candidate, score), following in zip(chosen, [*chosen[1:], None]):
        passage_id = candidate.hit.id
        n = numbers.setdefault(passage_id, len(numbers) + 1)
        used.setdefault(passage_id, []).append((candidate, score))
        # One marker after a run of sentences from the same passage; " …" where text is skipped.
        same_run = following is not None and following[0].hit.id == passage_id
        skips = following is not None and same_run and bool(_gap(candidate, following[0]).strip())
        parts.append(candidate.sentence.text + (" …" if skips else "" if same_run else f" [{n}]"))
    citations = []
    for passage_id, n in numbers.items():
        items = sorted(used[passage_id], key=lambda item: item[0].position)
        citations.append(
            _citation(
                n,
                items[0][0].hit.passage,
                documents,
                score=max(score for _, score in items),
                quote=_join_quotes([candidate for candidate, _ in items]),
                quote_spans=tuple((c.sentence.start, c.sentence.end) for c, _ in items),
            )
        )
    return Answer(question, " ".join(parts), True, round(certainty, 4), tuple(citations))


def _citation(
    n: int,
    passage: Passage,
    documents: dict[str, DocumentInfo],
    *,
    score: float,
    quote: str = "",
    quote_spans: tuple[tuple[int, int], ...] = (),
) -> Citation:
    """Passage `n` with its document's headline, date and author; quoting nothing unless told."""
    document = documents[passage.source]
    return Citation(
        n=n,
        source=passage.source,
        start=passage.start,
        end=passage.end,
        text=passage.text,
        quote=quote,
        score=round(score, 4),
        quote_spans=quote_spans,
        title=document.title,
        published=document.published,
        author=document.author,
    )


def _quoted(items: list[str]) -> str:
    quoted = [f"“{item}”" for item in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _join_quotes(used: list[SentenceHit]) -> str:
    """The sentences used from one passage, in order, verbatim: adjacent sentences (only
    whitespace between them) are one slice of the passage; " … " where text was skipped."""
    quote = used[0].sentence.text
    for before, after in zip(used, used[1:]):
        gap = _gap(before, after)
        quote += (gap if not gap.strip() else " … ") + after.sentence.text
    return quote


def _gap(before: SentenceHit, after: SentenceHit) -> str:
    """The text of their passage between two of its sentences."""
    passage = before.hit.passage
    return passage.text[before.sentence.end - passage.start : after.sentence.start - passage.start]
