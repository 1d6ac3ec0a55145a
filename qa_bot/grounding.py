"""Does a sentence answer the question? The checks that keep a topical sentence from passing
for an answer.

A candidate sentence is grounded when it holds a phrase of the kind the question asks for (a
number for "how many", a date for "when", a name for "who", a place for "where"), and when the
question's words and names are found in it or in its passage, not just somewhere in the
article. Each check is a number between 0 and 1; `answer.py` weighs them, with the retrieval
scores, into the confidence. No I/O and no model: the sentences were annotated at build time.
"""
from __future__ import annotations

from dataclasses import dataclass

from .annotation import Phrase
from .question import STOPWORDS, WORD, answer_type, names, words
from .retrieval import Retrieval, SentenceHit

# The phrase labels (spaCy's entity labels and NAME) that can answer each kind of question.
ANSWER_LABELS = {
    "number": frozenset({"CARDINAL", "QUANTITY", "PERCENT", "MONEY"}),
    "duration": frozenset({"DATE", "TIME", "QUANTITY", "CARDINAL"}),
    "date": frozenset({"DATE", "TIME"}),
    "person": frozenset({"PERSON", "ORG", "NORP", "GPE", "NAME"}),
    "organisation": frozenset({"ORG", "NORP", "GPE", "NAME", "PERSON"}),
    # spaCy's small pipeline often takes a place for a product ("Russia's Kursk region").
    "place": frozenset({"GPE", "LOC", "FAC", "NAME", "PRODUCT"}),
}


@dataclass(frozen=True)
class Evidence:
    """How well one sentence answers the question: the inputs of the confidence model."""

    candidate: SentenceHit
    sentence_cover: float  # IDF-weighted share of the question's words (or close words) in the
    #                        sentence
    passage_cover: float  # ... in the sentence's passage
    unknown: float  # ... found nowhere in the article(s) searched, nor any close word
    missing_name: bool  # a name the question asks about is not in the passage
    kind: str | None  # what the question asks for: number, date, person, place ...
    answer_phrase: Phrase | None  # the phrase of that kind in the sentence, when there is one

    @property
    def type_missing(self) -> bool:
        """The question asks for a kind of phrase that the sentence does not hold."""
        return self.kind is not None and self.answer_phrase is None

    @property
    def amount_missing(self) -> bool:
        """The question asks for a number, an amount of time or a date, and the sentence holds
        none: never an answer. (A "who" or "where" can be answered by a common noun: "Who
        joined them?" "An additional 10,000 soldiers.")"""
        return self.type_missing and self.kind in ("number", "duration", "date")


def ground(question: str, retrieval: Retrieval,
           candidates: list[SentenceHit]) -> list[Evidence]:
    """Check each candidate sentence against what the question asks. The question is read once,
    and its names are looked for once per passage."""
    kind = answer_type(question)
    asked_words = set(words(question)) - STOPWORDS
    asked = retrieval.asked
    total = sum(asked.values()) or 1.0
    unknown = sum(w for t, w in asked.items() if t in retrieval.unknown) / total
    asked_names = names(question)
    missing_name = {hit.id: any(not _name_in(name, hit.passage.text) for name in asked_names)
                    for hit in {c.hit.id: c.hit for c in candidates}.values()}

    def cover(terms: frozenset[str]) -> float:
        """IDF-weighted share of the asked stems in `terms`, by stem or by a close word."""
        return sum(w for t, w in asked.items()
                   if t in terms or retrieval.aliases.get(t) in terms) / total

    return [Evidence(candidate=candidate,
                     sentence_cover=cover(candidate.terms),
                     passage_cover=cover(retrieval.passage_terms[candidate.hit.id]),
                     unknown=unknown,
                     missing_name=missing_name[candidate.hit.id],
                     kind=kind,
                     answer_phrase=best_phrase(asked_words, kind, candidate))
            for candidate in candidates]


def best_phrase(asked: set[str], kind: str | None, candidate: SentenceHit) -> Phrase | None:
    """The phrase of the asked kind in the sentence that the question (its content words,
    `asked`) does not already hold; of several, the one nearest the words the sentence shares
    with the question."""
    if kind is None:
        return None
    passage = candidate.hit.passage
    found = []
    for phrase in _joined([p for p in candidate.notes.phrases if p.label in ANSWER_LABELS[kind]],
                          passage.text, passage.start):
        text = passage.text[phrase.start - passage.start:phrase.end - passage.start]
        if all(any(_same_word(w, a) for a in asked) for w in words(text)):
            continue  # "October 2024", "Russia" (for "Russian") are what the question says
        found.append(phrase)
    if len(found) <= 1:
        return found[0] if found else None
    sentence = candidate.sentence
    anchors = [sentence.start + m.start() for m in WORD.finditer(sentence.text)
               if words(m.group(0))[:1] and words(m.group(0))[0] in asked]
    if not anchors:
        return found[0]
    return min(found, key=lambda p: min(abs(p.start - a) for a in anchors))


def _joined(phrases: list[Phrase], text: str, offset: int) -> list[Phrase]:
    """Phrases with only a space between them as one: "Duke" + "Richard II", "Richard" + "I"
    (spaCy's entity and the proper nouns beside it)."""
    joined: list[Phrase] = []
    for phrase in phrases:
        if joined and not text[joined[-1].end - offset:phrase.start - offset].strip():
            joined[-1] = Phrase(joined[-1].start, phrase.end, joined[-1].label)
        else:
            joined.append(phrase)
    return joined


def _same_word(word: str, asked: str) -> bool:
    """The same word, or one the start of the other ("Russia", "Russian")."""
    return word == asked or (min(len(word), len(asked)) >= 4
                             and (word.startswith(asked) or asked.startswith(word)))


def _name_in(name: str, text: str) -> bool:
    """Whether most words of a name occur in the text, matching the start of a word either way
    ("Korea" is in "Korean", "Russian" in "Russia's"), case-insensitively; hyphenated words
    count by their parts ("January" is in "mid-January")."""
    present = [p for w in words(text) for p in w.removesuffix("'s").split("-") if p]
    parts = [p for w in words(name) for p in w.split("-") if p]
    found = sum(1 for part in parts
                if any(w.startswith(part) or (len(w) >= 4 and part.startswith(w)) for w in present))
    return found * 2 > len(parts)
