"""Does a sentence answer the question? The checks that keep a topical sentence from passing
for an answer.

A candidate sentence is grounded when it holds a phrase of the kind the question asks for (a
number for "how many", a date for "when", a name for "who", a place for "where"), and when the
question's words and names are found in it or in its passage, not just somewhere in the
article. Each check is a number between 0 and 1; `compose` weighs them, with the retrieval
scores, into the grounding probability, one input of the confidence. No I/O and no model:
the sentences were annotated at build time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from qa_bot.answer.hits import Retrieval, SentenceHit
from qa_bot.answer.phrases import (
    LIST_BEFORE,
    PhraseReading,
    likeliest_phrase,
    read_for_phrases,
    stems,
)
from qa_bot.answer.question import (
    CARDINAL_WORDS,
    STOPWORDS,
    answer_type,
    asks_about_future,
    asks_what_was_said,
    content_words,
    fold_accents,
    names,
    reports_a_statement,
    speaks_of_future,
    words,
)
from qa_bot.ingest.annotation import Phrase

# The phrase labels (spaCy's entity labels and NAME) that can answer each kind of question.
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
# Times a question may ask for that are often named rather than dated ("the Romantic era",
# "the Wisconsinan glaciation", "winter"): the stems of the asked noun. Not "time": "how many
# times" asks for a number.
NAMED_TIMES = frozenset({"era", "period", "season"})
# A year, or a decade, as a date writes it: not part of a longer number, an amount of money
# or a count ("1,500", "$2000", "2.5").
YEAR = re.compile(r"(?<![\d,.$€£])\b(1\d{3}|20\d{2})(s\b|\b(?![,.]\d))")
# A place and the region it is in join into one answer ("Maadi, Egypt"), as do two amounts of a
# range ("3,000 to 5,000") and a place with the compass word before it ("southern Italy").
PLACE_LABELS = frozenset({"GPE", "LOC"})
AMOUNT_LABELS = frozenset({"CARDINAL", "QUANTITY", "PERCENT", "MONEY", "DATE", "TIME"})
RANGE = frozenset({" to ", "-", "–", " – ", " - "})  # "3,000 to 5,000", "1066–1071"
COMPASS = frozenset(
    "north south east west northern southern eastern western central northeastern "
    "northwestern southeastern southwestern".split()
)
UNIT = re.compile(
    r" (?:(?:square|cubic) )?(?:(?:milli|centi|kilo)?met(?:re|er)s?|km|cm|mm|m|"
    r"miles?|feet|foot|ft|inch(?:es)?|tonnes?|tons?|kilograms?|kg|grams?|g|"
    r"pounds?|lbs?|lit(?:re|er)s?|gallons?|hectares?|ha|acres?|degrees?|percent|per cent|"
    r"knots|mph|km/h)\b"
)
LIST_AFTER = re.compile(r",? (?:and )?[A-Z0-9]|, (?:the |The )")
# The labels of names, which join into one when only a space (or a person's "of") parts them.
NAME_LABELS = frozenset(
    {"PERSON", "ORG", "GPE", "LOC", "FAC", "NAME", "PRODUCT", "EVENT", "WORK_OF_ART"}
)


@dataclass(frozen=True)
class Evidence:
    """How well one sentence answers the question: the inputs of the confidence model.

    The phrase model runs only for the sentences whose confidence is asked for (those the
    reader read), not for every candidate: `phrase_fit` is computed on first use."""

    candidate: SentenceHit
    sentence_cover: float  # IDF-weighted share of the question's words (or close words) in the
    #                        sentence
    passage_cover: float  # ... in the sentence's passage
    unknown: float  # ... found nowhere in the article(s) searched, nor any close word
    missing_name: bool  # a name the question asks about is not in the passage
    kind: str | None  # what the question asks for: number, date, person, place ...
    typed: tuple[Phrase, ...]  # the phrases of that kind in the sentence the question does not
    #                            already hold
    naming: tuple[Phrase, ...]  # those of them that name the noun asked about ("Kursk" region,
    #                             "an additional 10,000" soldiers)
    reading: PhraseReading
    meaning_cover: float = 0.0  # IDF-weighted mean, over the question's words, of how close
    #                             the sentence's closest word is to each (1 for the word itself)
    weakest_match: float = 1.0  # the least of those: the question's word the sentence is
    #                             furthest from ("speak", "defected")
    noun_match: float = 1.0  # how close the sentence's closest word is to the noun the
    #                          question asks about ("which general", "how many homes"); 1 when
    #                          it asks about none
    piece_weakest: float = 1.0  # the least, over the question's content word pieces read in
    #                             context, of how close the sentence's closest piece is
    piece_cover: float = 1.0  # ... the mean of those
    statement_missing: bool = False  # the question asks what someone said, and the sentence
    #                                  reports no one saying anything
    future_missing: bool = False  # the question asks about what is to come, and the sentence
    #                               speaks only of what was or is

    @cached_property
    def likeliest(self) -> tuple[Phrase | None, float]:
        """The sentence's likeliest phrase of any kind to be the answer itself, and the
        probability that it is (the phrase model), 0 without phrases."""
        return likeliest_phrase(self.reading, self.candidate, list(self.candidate.notes.phrases))

    @property
    def phrase_fit(self) -> float:
        return self.likeliest[1]

    @property
    def type_missing(self) -> bool:
        """The question asks for a kind of phrase that the sentence does not hold."""
        return self.kind is not None and not self.typed

    @property
    def amount_missing(self) -> bool:
        """The question asks for a number, an amount of time or a date, and the sentence holds
        none: never an answer. (A "who" or "where" can be answered by a common noun: "Who
        joined them?" "An additional 10,000 soldiers.")"""
        return (
            self.type_missing
            and self.kind in ("number", "duration", "date")
            and self.reading.noun not in NAMED_TIMES
            and not holds_amount(self.kind, self.candidate.sentence.text)
        )

    @property
    def ruled_out(self) -> bool:
        """Never an answer, whatever the confidence model says: a question for an amount or a
        date without one, for what someone said without anyone saying it, or about what is to
        come without a word of it."""
        return self.amount_missing or self.statement_missing or self.future_missing


def ground(question: str, retrieval: Retrieval, candidates: list[SentenceHit]) -> list[Evidence]:
    """Check each candidate sentence against what the question asks. The question is read once,
    and its names are looked for once per passage."""
    kind = answer_type(question)
    asked_words = set(words(question)) - STOPWORDS
    reading = read_for_phrases(question)
    asked = retrieval.asked
    total = sum(asked.values()) or 1.0
    unknown = sum(w for t, w in asked.items() if t in retrieval.unknown) / total
    asked_names = names(question)
    asks_statement = asks_what_was_said(question)
    asks_future = asks_about_future(question)
    missing_name = {
        hit.id: any(not _name_in(name, hit.passage.text) for name in asked_names)
        for hit in {c.hit.id: c.hit for c in candidates}.values()
    }

    def cover(terms: frozenset[str]) -> float:
        """IDF-weighted share of the asked stems in `terms`, by stem or by a close word."""
        return (
            sum(w for t, w in asked.items() if t in terms or retrieval.aliases.get(t) in terms)
            / total
        )

    evidence = []
    for candidate in candidates:
        pieces = candidate.piece_match
        typed = typed_phrases(asked_words, kind, candidate)
        matches = dict(zip(retrieval.compared, candidate.word_match))
        weighted = [(asked[stem], match) for stem, match in matches.items()]
        meaning_cover = (
            sum(w * m for w, m in weighted) / (sum(w for w, _ in weighted) or 1.0)
            if weighted
            else 0.0
        )
        evidence.append(
            Evidence(
                candidate=candidate,
                sentence_cover=cover(candidate.terms),
                passage_cover=cover(retrieval.passage_terms[candidate.hit.id]),
                unknown=unknown,
                missing_name=missing_name[candidate.hit.id],
                kind=kind,
                typed=tuple(typed),
                naming=tuple(naming_the_noun(reading, candidate, typed)),
                reading=reading,
                meaning_cover=meaning_cover,
                weakest_match=min(matches.values(), default=1.0),
                noun_match=1.0 if candidate.noun_match is None else candidate.noun_match,
                piece_weakest=min(pieces, default=1.0),
                piece_cover=sum(pieces) / len(pieces) if pieces else 1.0,
                statement_missing=asks_statement
                and not reports_a_statement(candidate.sentence.text),
                future_missing=asks_future and not speaks_of_future(candidate.sentence.text),
            )
        )
    return evidence


def holds_amount(kind: str, sentence: str) -> bool:
    """Whether the sentence writes an amount of the kind asked for where spaCy's entities missed
    it: a count in words ("at age seven", "four nights"; not "one", which is seldom a count:
    "one of the ..."), or for a date a year or a decade ("(r. 1521–1567)", "the 1990s"), not
    a count ("1,500 soldiers", "$2000")."""
    if kind == "date":
        return bool(YEAR.search(sentence))
    return any(
        w in CARDINAL_WORDS and w not in ("zero", "one")
        for w in re.findall(r"[a-z]+", sentence.lower())
    )


LAST_WORD = re.compile(r"(\w+) $")  # the word right before a phrase, one space between them
NOUN_REACH = 40  # characters after a phrase in which the noun it names stands ("Kursk region"),


def typed_phrases(asked: set[str], kind: str | None, candidate: SentenceHit) -> list[Phrase]:
    """The phrases of the asked kind in the sentence that the question (its content words,
    `asked`) does not already hold."""
    if kind is None:
        return []
    passage, labels = candidate.hit.passage, ANSWER_LABELS[kind]
    # Names are joined before their kind is asked: "Richard" (a person) "I" is no place.
    names = _joined(
        [p for p in candidate.notes.phrases if p.label in NAME_LABELS], passage.text, passage.start
    )
    of_kind = sorted(
        [p for p in names if p.label in labels]
        + [p for p in candidate.notes.phrases if p.label in labels and p.label not in NAME_LABELS],
        key=lambda p: (p.start, -p.end),
    )
    found = []
    for phrase in _joined(of_kind, passage.text, passage.start):
        phrase = _with_its_unit(
            _with_its_part(phrase, passage.text, passage.start), passage.text, passage.start
        )
        text = passage.text[phrase.start - passage.start : phrase.end - passage.start]
        if all(
            any(_same_word(w, fold_accents(a)) for a in asked) for w in words(fold_accents(text))
        ):
            continue  # "October 2024", "Russia" (for "Russian") are what the question says
        found.append(phrase)
    return found


def _with_its_part(phrase: Phrase, text: str, offset: int) -> Phrase:
    """A place with the part of it the sentence names: "southern" Italy, "western" Tibet."""
    if phrase.label not in PLACE_LABELS:
        return phrase
    before = LAST_WORD.search(text, max(0, phrase.start - offset - 20), phrase.start - offset)
    if before is None or before.group(1).lower() not in COMPASS:
        return phrase
    return Phrase(offset + before.start(1), phrase.end, phrase.label)


def _with_its_unit(phrase: Phrase, text: str, offset: int) -> Phrase:
    """A number with the unit of measure after it: "142" millimetres."""
    if phrase.label != "CARDINAL":
        return phrase
    unit = UNIT.match(text, phrase.end - offset)
    return Phrase(phrase.start, offset + unit.end(), phrase.label) if unit else phrase


def naming_the_noun(
    reading: PhraseReading, candidate: SentenceHit, phrases: list[Phrase]
) -> list[Phrase]:
    """Of the phrases, those that hold the noun the question asks about, follow it right after
    ("what river": the river "Seine"), or stand right before it, past words the question says
    too ("which region": "Kursk" region; "how many special forces": "around 1,500" North Korean
    special forces)."""
    if reading.noun is None or not phrases:
        return []
    passage = candidate.hit.passage

    def names_noun(phrase: Phrase) -> bool:
        inside = passage.text[phrase.start - passage.start : phrase.end - passage.start]
        if reading.noun in stems(content_words(inside)):
            return True
        before = LAST_WORD.search(
            passage.text,
            max(0, phrase.start - passage.start - NOUN_REACH),
            phrase.start - passage.start,
        )
        if before and stems([before.group(1).lower()])[0] == reading.noun:
            return True
        after = passage.text[phrase.end - passage.start : phrase.end - passage.start + NOUN_REACH]
        for stem in stems(content_words(after)):  # past the question's own modifiers
            if stem == reading.noun:
                return True
            if stem not in reading.stems:
                return False
        return False

    return [p for p in phrases if names_noun(p)]


def _joined(phrases: list[Phrase], text: str, offset: int) -> list[Phrase]:
    """Phrases that make one answer, as one (`_one_name`): names with only a space between
    them ("Duke" + "Richard II", "Richard" + "I": spaCy's entity and the proper nouns beside
    it); a person and the place or house "of" them ("William" of "Montreuil"); a place and its
    region ("Maadi, Egypt"); a pair ("Liszt and Hiller") that is no list of three or more; a
    range ("3,000 to 5,000")."""
    joined: list[Phrase] = []
    for phrase in phrases:
        if joined and _one_name(joined[-1], phrase, text, offset):
            joined[-1] = Phrase(joined[-1].start, phrase.end, joined[-1].label)
        else:
            joined.append(phrase)
    return joined


def _one_name(phrase: Phrase, following: Phrase, text: str, offset: int) -> bool:
    """Whether `phrase` and the `following` one are one name, or a pair a reader wants whole
    ("Glasgow, Scotland", "Liszt and Hiller", "2013 and 2014"), though not two items of a
    longer list ("China, Mexico, Guyana")."""
    between = text[phrase.end - offset : following.start - offset]
    listed = bool(
        LIST_BEFORE.search(text, 0, phrase.start - offset)
        or LIST_AFTER.match(text, following.end - offset)
    )
    return (
        not between.strip()
        or (between == " of " and phrase.label == "PERSON")
        or (not listed and between == ", " and {phrase.label, following.label} <= PLACE_LABELS)
        or (not listed and between == " and " and phrase.label == following.label)
        or (between in RANGE and phrase.label == following.label and phrase.label in AMOUNT_LABELS)
    )


def _same_word(word: str, asked: str) -> bool:
    """The same word, or one the start of the other ("Russia", "Russian")."""
    return word == asked or (
        min(len(word), len(asked)) >= 4 and (word.startswith(asked) or asked.startswith(word))
    )


def _name_in(name: str, text: str) -> bool:
    """Whether most words of a name occur in the text, matching the start of a word either way
    ("Korea" is in "Korean", "Russian" in "Russia's"), case-insensitively; hyphenated words
    count by their parts ("January" is in "mid-January")."""
    present = [p for w in words(text) for p in w.removesuffix("'s").split("-") if p]
    parts = [p for w in words(name) for p in w.split("-") if p]
    found = sum(
        1
        for part in parts
        if any(w.startswith(part) or (len(w) >= 4 and part.startswith(w)) for w in present)
    )
    return found * 2 > len(parts)
