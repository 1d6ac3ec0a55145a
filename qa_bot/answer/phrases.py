"""The phrase model: which phrase of a sentence is the answer itself, and how likely.

A logistic regression over features of each phrase spaCy marked in a sentence (its label, the
words around it, whether the question's words or the noun it asks about stand next to it),
fitted by calibration/fit_phrases.py into `qa_bot/models/grounding/phrases.json`. Grounding
asks it how likely a sentence's likeliest phrase is to answer (`Evidence.phrase_fit`).
No I/O and no model beyond that file: the sentences were annotated at build time.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

from qa_bot.answer.fitted import regression
from qa_bot.answer.hits import SentenceHit
from qa_bot.answer.question import (
    QUESTION_WORD,
    WORD,
    answer_type,
    asked_noun,
    content_words,
    fold_accents,
    words,
)
from qa_bot.ingest.annotation import Phrase

# A name or number with a comma or "and" between it and the next, as in a list of three or more.
LIST_BEFORE = re.compile(r"[A-Z0-9][\w.-]*, $")


@dataclass(frozen=True)
class PhraseReading:
    """What the phrase model reads in a question: the kind of answer ("number", "date" ...), or
    its question word when it asks for no kind ("what", "why"); its content words, stemmed;
    the stem of the noun it asks about ("what river", "how many homes")."""

    kind: str
    stems: frozenset[str]
    noun: str | None


def read_for_phrases(question: str) -> PhraseReading:
    match = QUESTION_WORD.search(question)
    word = match.group(1).lower() if match else "none"
    noun = asked_noun(question) or person_noun(question)
    kind = answer_type(question) or word.split()[0]
    named = NAME_OF.search(question) if noun == "name" else None
    named_noun = content_words(named.group(1)) if named else []  # none in "the name of it"
    if named_noun:  # "What was the name of the count of Apulia?" asks for a name of a count
        kind, noun = "name", named_noun[0]
    elif kind in ("what", "which") and CALLED.search(question):
        kind = "name"  # "What was the naval base called?"
    return PhraseReading(
        kind=kind,
        stems=frozenset(stems([*content_words(question), *_name_parts(question)])),
        noun=stems([noun])[0] if noun else None,
    )


def _name_parts(question: str) -> list[str]:
    """The names joined by a hyphen in the question: "the North Korea-Russia collaboration"
    says "Korea" and "Russia"."""
    return [
        part.lower()
        for token in WORD.findall(question)
        if "-" in token
        for part in token.split("-")
        if part[:1].isupper()
    ]


def person_noun(question: str) -> str | None:
    """The noun a "who is the X" question asks about: "Who was the Norse leader?" "leader";
    "Who was Margaret's brother?" "brother" (the answer often stands right after it: "their
    leader Rollo")."""
    match = WHO_IS.search(question)
    return words(match.group(1))[-1] if match else None


def likeliest_phrase(
    reading: PhraseReading, candidate: SentenceHit, phrases: list[Phrase]
) -> tuple[Phrase | None, float]:
    """Of `phrases` (of the candidate sentence), the one the phrase model finds likeliest to be
    the answer, and that likelihood. The sentence is read as the best one, not as a neighbour
    quoted beside it (the model's "neighbour" input, which its fit also saw)."""
    if not phrases:
        return None, 0.0
    passage, sentence = candidate.hit.passage, candidate.sentence
    texts = [passage.text[p.start - passage.start : p.end - passage.start] for p in phrases]
    model = regression("grounding/phrases")
    fits = [
        model.probability(features)
        for features in sentence_phrase_features(
            reading,
            sentence.text,
            sentence.start,
            phrases,
            texts,
            False,
            candidate.notes.phrases,
        )
    ]
    best = max(range(len(fits)), key=fits.__getitem__)
    return phrases[best], fits[best]


def sentence_phrase_features(
    reading: PhraseReading,
    sentence: str,
    offset: int,
    phrases: list[Phrase],
    texts: list[str],
    neighbour: bool,
    noted: Sequence[Phrase],
) -> list[dict[str, float]]:
    """The phrase model's inputs for each of `phrases` of a sentence (at `offset` in its source;
    `neighbour`: quoted beside the best sentence; `noted`: all the phrases noted in it)."""
    tokens, token_stems = _tokens(sentence, offset)
    anchors = [i for i, stem in enumerate(token_stems) if stem in reading.stems]
    rows = []
    for phrase, text in zip(phrases, texts):
        inside = [
            i
            for i, (start, end) in enumerate(tokens)
            if phrase.start <= start and end <= phrase.end
        ]
        inside = inside or [0]
        rows.append(
            phrase_features(
                reading,
                text,
                phrase.label,
                inside,
                anchors,
                (phrase.start - offset) / max(1, len(sentence)),
                token_stems[inside[-1] + 1 : inside[-1] + 1 + FOLLOWING],
                token_stems[max(0, inside[0] - FOLLOWING) : inside[0]],
            )
            | _context_features(
                reading,
                phrase,
                noted,
                neighbour,
                sentence[: phrase.start - offset],
                sentence[phrase.end - offset :],
            )
            | _clause_features(reading, sentence, offset, tokens, inside, anchors)
        )
    return rows


def _clause_features(
    reading: PhraseReading,
    sentence: str,
    offset: int,
    tokens: Sequence[tuple[int, int]],
    inside: list[int],
    anchors: list[int],
) -> dict[str, float]:
    """Whether punctuation parts the phrase from the nearest of the question's words in the
    sentence: an answer usually stands in the clause that says what the question asks."""
    if not anchors:
        return {}
    nearest = min(anchors, key=lambda a: min(abs(a - i) for i in inside))
    first, last = sorted((nearest, inside[0] if nearest < inside[0] else inside[-1]))
    between = sentence[tokens[first][1] - offset : tokens[last][0] - offset]
    parted = float(any(c in between for c in ",;:()–—"))
    return {"parted": parted, f"{reading.kind}|parted": parted}


@lru_cache(maxsize=4096)
def _tokens(sentence: str, offset: int) -> tuple[tuple[tuple[int, int], ...], tuple[str, ...]]:
    """A sentence's word spans in its source and their stems: the phrase model reads the
    quoted sentences more than once per question."""
    found = list(WORD.finditer(sentence))
    return (
        tuple((offset + m.start(), offset + m.end()) for m in found),
        tuple(stems([m.group(0).lower() for m in found])),
    )


def _context_features(
    reading: PhraseReading,
    phrase: Phrase,
    noted: Sequence[Phrase],
    neighbour: bool,
    before: str,
    after: str,
) -> dict[str, float]:
    """Where a phrase stands among the others and the words around it: in a sentence quoted
    beside the best one (its neighbour or the runner-up); the modifier of a longer phrase
    ("Norman" in "Norman art", "Russian" in "Russian capabilities"), rarely an answer by itself
    (but the head of "King Malcolm III of Scotland", with "of" after it, is no modifier); a
    possessive ("Peck's"); followed by a description ("Calpurnia, their cook"); in apposition
    ("a local couple, the Canuts")."""
    modifier = float(
        not after.startswith(" of ")
        and any(other.start <= phrase.start and other.end > phrase.end for other in noted)
    )
    kind = reading.kind
    possessive = float(after.startswith(("'s", "’s")))
    described = float(bool(DESCRIBED.match(after)))
    apposed = float(
        bool(APPOSED.search(before))
        and not LIST_BEFORE.search(before)
        and not OPENING.match(before)
    )
    return {
        "neighbour": float(neighbour),
        "modifier": modifier,
        f"{kind}|modifier": modifier,
        "possessive": possessive,
        f"{kind}|possessive": possessive,
        "described": described,
        f"{kind}|described": described,
        "apposed": apposed,
        f"{kind}|apposed": apposed,
    }


def phrase_features(
    reading: PhraseReading,
    text: str,
    label: str,
    inside: list[int],
    anchors: list[int],
    position: float,
    following: Sequence[str],
    preceding_words: Sequence[str],
) -> dict[str, float]:
    """The phrase model's inputs for one phrase of a sentence: its label (for the kind of
    question), how much of it the question already says, how far it is from the words the
    sentence shares with the question (`anchors`, token numbers; `inside`: the phrase's), its
    length, whether it holds the noun the question asks about, is followed by it ("how many
    soldiers": "an additional 10,000" soldiers; `following`: the next stems) or follows it
    ("what river": the river "Seine"; `preceding_words`: the stems before it), the preposition
    before it ("who": patronised by "Robert Guiscard"; "where": fled to "southern Italy"), and
    how many of the question's words stand right before and right after it (the words around
    the asked phrase in the question: "gave a tribute award to" "Michael Jackson")."""
    text_stems = stems(content_words(text))
    preceding = preceding_words[-1] if preceding_words else None
    asked_before = len(reading.stems.intersection(preceding_words))
    asked_after = len(reading.stems.intersection(following))
    closeness = sum(1.0 / (1 + min(abs(i - a) for i in inside)) for a in anchors)
    said = sum(1 for s in text_stems if s in reading.stems) / max(1, len(text_stems))
    distance = min((min(abs(i - a) for i in inside) for a in anchors), default=30)
    before = any(a < inside[0] for a in anchors)
    after = any(a > inside[-1] for a in anchors)
    length = len(text.split())
    digit = float(any(c.isdigit() for c in text))
    capital = float(text[:1].isupper())
    noun = float(reading.noun is not None and reading.noun in text_stems)
    counted = float(reading.noun is not None and reading.noun in following)
    named = float(reading.noun is not None and reading.noun == preceding)
    kind = reading.kind
    preposition = {f"{kind}|after {preceding}": 1.0} if preceding in PREPOSITIONS else {}
    return preposition | {
        f"label={label}": 1.0,
        f"{kind}|label={label}": 1.0,
        "said": said,
        "all said": float(said == 1.0 and bool(text_stems)),
        "none said": float(said == 0.0),
        "log distance": math.log1p(distance),
        f"distance={min(distance, 6)}": 1.0,
        f"{kind}|log distance": math.log1p(distance),
        f"length={min(length, 6)}": 1.0,
        f"{kind}|length={min(length, 5)}": 1.0,
        "after anchor": float(before),
        "before anchor": float(after),
        f"{kind}|anchors={before:d}{after:d}": 1.0,
        "digit": digit,
        f"{kind}|digit": digit,
        "capital": capital,
        f"{kind}|capital": capital,
        "asked noun": noun,
        f"{kind}|asked noun": noun,
        "asked noun follows": counted,
        f"{kind}|asked noun follows": counted,
        "asked noun precedes": named,
        f"{kind}|asked noun precedes": named,
        "position": position,
        f"asked before={asked_before}": 1.0,
        f"asked after={asked_after}": 1.0,
        f"{kind}|asked before={min(asked_before, 2)}": 1.0,
        f"{kind}|asked after={min(asked_after, 2)}": 1.0,
        "closeness": closeness,
        f"{kind}|closeness": closeness,
    }


NAME_OF = re.compile(
    r"\bname\s+of\s+(?:(?:the|a|an|his|her|their|its)\s+)?([\w'’-]+)", re.IGNORECASE
)
CALLED = re.compile(r"\b(?:called|named|known as)\W*$", re.IGNORECASE)
# A description after a comma ("Calpurnia, their cook"), not a clause or a list going on
# (", and ...", ", which ...", ", in 1066").
DESCRIBED = re.compile(
    r", (?!(?:and|or|but|nor|so|yet|which|who|whom|whose|where|when|while|as|"
    r"if|in|on|at|of|to|for|with|by|from|after|before|since|although|though|"
    r"because)\b)(?:the |a |an |their |his |her |its )?[a-z]"
)
# A phrase in apposition after a comma ("a local couple, the Canuts"), not the subject after an
# opening phrase ("After the war, Rollo").
APPOSED = re.compile(r", (?:the |a |an )?$")
OPENING = re.compile(
    r"^(?:in|on|at|after|before|during|by|from|with|for|since|following|under|"
    r"over|through|as|when|while|although|though|because|if|once|until)\b[^,]*, "
    r"(?:the |a |an )?$",
    re.IGNORECASE,
)
FOLLOWING = 3  # words after a phrase where the noun it counts or names may stand
# "Who was the X", "Who is Y's X", up to a preposition or clause after the X.
WHO_IS = re.compile(
    r"^\s*who\s+(?:is|was|are|were)\s+((?:the|a|an)\s+[\w'’ -]+?|[\w-]+['’]s\s+"
    r"[\w -]+?)(?=\s+(?:in|of|at|for|on|from|to|with|during|ahead|that|who|when|"
    r"where|which|whose|by|after|before|named|called)\b|\s*[?.,!]|$)",
    re.IGNORECASE,
)
#                 and before it, in which the noun it follows stands ("the river Seine")
PREPOSITIONS = frozenset(
    {
        "by",
        "of",
        "in",
        "at",
        "on",
        "to",
        "from",
        "with",
        "as",
        "for",
        "under",
        "between",
        "after",
        "before",
        "dure",
        "than",
        "into",
        "near",
        "against",
        "sinc",
        "until",
    }
)  # as stemmed ("dure": during)
BRITISH_ISE = re.compile(r"(?<=\w\w\w)is(e|ed|es|ing|ation|ations)$")
_STEMMERS = threading.local()  # a PyStemmer stemmer is not safe to share between threads


def stems(tokens: list[str]) -> list[str]:
    """Snowball stems, British "-ise" spellings as American "-ize" ones: "patronised" and
    "patronized" are one word to the reader (Snowball makes them "patronis" and "patron"), and
    without accents: a reader types "Beyonce" for "Beyoncé"."""
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = Stemmer.Stemmer("english")
    return stemmer.stemWords([BRITISH_ISE.sub(r"iz\1", fold_accents(token)) for token in tokens])
