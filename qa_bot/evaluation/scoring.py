"""Asking a question set and judging each answer against the accepted ones.

An answer counts as right when it contains one of the accepted answers (case-insensitive); a
short answer when it contains one after SQuAD's normalisation (lower case, no punctuation, no
articles). A quote holding one of a case's answering `sentences` quotes the answering sentence.
"""

from __future__ import annotations

import string
import time
from dataclasses import dataclass

from qa_bot.answer.bot import QABot
from qa_bot.answer.compose import compose_answer
from qa_bot.answer.result import Answer
from qa_bot.evaluation.questions import ON_TOPIC, SHORT_ANSWER_WORDS, Case, case_turns


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
