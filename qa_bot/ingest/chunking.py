"""Passages and sentences with exact character spans: `text == source_text[start:end]`, always.

Paragraphs are lines when the text has no blank line (one paragraph per line, as the article
is written), otherwise blocks separated by blank lines. Short paragraphs are merged with their
neighbours; long ones are split on sentence boundaries so that no passage is cut off by the
model, which reads 256 word pieces (about 1,000 characters of English).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


@dataclass(frozen=True)
class ChunkingSettings:
    min_chars: int = 200
    max_chars: int = 1000


# What every build and bot uses unless a caller passes other settings (tests do).
DEFAULT_CHUNKING = ChunkingSettings()


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Passage:
    source: str
    start: int
    end: int
    text: str
    sentences: tuple[Sentence, ...]


def chunk_document(source: str, text: str, settings: ChunkingSettings) -> list[Passage]:
    """Split one document's text into passages of whole sentences."""
    groups: list[list[Sentence]] = []
    for start, end in paragraph_spans(text):
        groups.extend(_fit(text, split_sentences(text, start, end), settings.max_chars))
    merged = _merge_short(groups, settings)
    return [
        Passage(
            source,
            group[0].start,
            group[-1].end,
            text[group[0].start : group[-1].end],
            tuple(group),
        )
        for group in merged
    ]


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-empty paragraph, surrounding whitespace excluded."""
    separator = BLANK_LINE if BLANK_LINE.search(text) else re.compile(r"\n")
    spans, position = [], 0
    for match in [*separator.finditer(text), None]:
        end = match.start() if match else len(text)
        spans.append(_strip(text, position, end))
        position = match.end() if match else len(text)
    return [(s, e) for s, e in spans if e > s]


def split_sentences(text: str, start: int, end: int) -> list[Sentence]:
    """The sentences of text[start:end], located exactly in `text`."""
    sentences: list[Sentence] = []
    cursor = start
    for piece in _segmenter().segment(text[start:end]):
        piece = piece.strip()
        found = text.find(piece, cursor, end) if piece else -1
        if found < 0:
            continue
        if sentences and text[cursor:found].strip():
            # The splitter skipped some text: it belongs to the sentence before.
            sentences[-1] = _sentence(text, sentences[-1].start, found)
        sentences.append(Sentence(found, found + len(piece), piece))
        cursor = found + len(piece)
    if text[cursor:end].strip():
        sentences.append(_sentence(text, cursor, end))
    return sentences


def _sentence(text: str, start: int, end: int) -> Sentence:
    start, end = _strip(text, start, end)
    return Sentence(start, end, text[start:end])


def _fit(text: str, sentences: list[Sentence], max_chars: int) -> list[list[Sentence]]:
    """Consecutive sentences grouped so that no group spans more than max_chars."""
    groups: list[list[Sentence]] = []
    for sentence in sentences:
        for piece in _cut_long(text, sentence, max_chars):
            if groups and piece.end - groups[-1][0].start <= max_chars:
                groups[-1].append(piece)
            else:
                groups.append([piece])
    return groups


def _cut_long(text: str, sentence: Sentence, max_chars: int) -> list[Sentence]:
    """A sentence longer than max_chars cut at spaces (rare: tables, lists without stops)."""
    pieces, start = [], sentence.start
    while sentence.end - start > max_chars:
        cut = text.rfind(" ", start + 1, start + max_chars)
        cut = cut if cut > 0 else start + max_chars
        pieces.append(_sentence(text, start, cut))
        start = _strip(text, cut, sentence.end)[0]
    pieces.append(_sentence(text, start, sentence.end))
    return pieces


def _merge_short(groups: list[list[Sentence]], settings: ChunkingSettings) -> list[list[Sentence]]:
    """Merge a group shorter than min_chars with its neighbour when the result still fits."""
    merged: list[list[Sentence]] = []
    for group in groups:
        if merged:
            previous = merged[-1]
            previous_len = previous[-1].end - previous[0].start
            group_len = group[-1].end - group[0].start
            fits = group[-1].end - previous[0].start <= settings.max_chars
            if fits and min(previous_len, group_len) < settings.min_chars:
                merged[-1] = previous + group
                continue
        merged.append(list(group))
    return merged


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@lru_cache(maxsize=1)
def _segmenter():  # type: ignore[no-untyped-def]
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)
