"""What an answer is: the Answer every interface shows, its Citations and its ShortAnswer."""

from __future__ import annotations

from dataclasses import asdict, dataclass


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
