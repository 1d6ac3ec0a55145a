"""Reading a question: its content words, the kind of answer it wants, and follow-ups.

Pure text functions, no model: they feed retrieval (what to search for) and answer composition
(which sentence actually answers).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidQuestion

WORD = re.compile(r"[\w'’-]+")
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves according article say
says said tell me please many much kind sort type name named one ones also
""".split())
# Words that refer back to something earlier in the conversation.
ANAPHORS = frozenset("he she it they them their theirs its his her this that these those there "
                     "then him".split())
FOLLOWUP_MAX_CONTENT_WORDS = 2


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """The words of `text` that carry meaning (no stopwords, no question words)."""
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1]


def answer_kind(question: str) -> str | None:
    """What the question asks for: date, number, percent, person, place, or None."""
    q = " ".join(words(question))
    if re.search(r"\b(what|which) (percentage|percent|proportion|share)\b", q):
        return "percent"
    if re.search(r"\bhow (many|much|long|far|old|large|big)\b", q):
        return "number"
    if re.search(r"^when\b|\bwhen (did|does|do|was|were|is|will)\b|\b(what|which) (year|month|day|date|century)\b|\bwhat time\b", q):
        return "date"
    if re.search(r"^who\b|\bwho (is|was|were|are|did|does|reported|said)\b|\bwhose\b|\b(which|what) (person|man|woman|leader|king|president)\b", q):
        return "person"
    if re.search(r"^where\b|\bwhere (is|was|were|are|did|does|do)\b|\b(which|what) (country|city|region|place|town)\b", q):
        return "place"
    return None


def is_followup(question: str) -> bool:
    """A question that leans on the conversation: it uses a pronoun or says little by itself."""
    tokens = words(question)
    return any(t in ANAPHORS for t in tokens) or len(content_words(question)) <= FOLLOWUP_MAX_CONTENT_WORDS


def search_query(question: str, history: list[Turn]) -> str:
    """The text to retrieve with: a follow-up is read together with the reader's previous question."""
    previous = [turn.content for turn in history if turn.role == "user" and turn.content.strip()]
    if previous and is_followup(question):
        return f"{previous[-1]} {question}"
    return question


def turns_from_json(history: object) -> list[Turn]:
    """Conversation history given as [{"role": "user"|"assistant", "content": str}, ...]."""
    if history is None:
        return []
    if not isinstance(history, list):
        raise InvalidQuestion('"history" must be a list of {"role", "content"} messages.')
    turns = []
    for number, message in enumerate(history, 1):
        if (not isinstance(message, dict) or message.get("role") not in ("user", "assistant")
                or not isinstance(message.get("content"), str)):
            raise InvalidQuestion(f'History message {number} must be {{"role": "user" or '
                                  f'"assistant", "content": text}}.')
        turns.append(Turn(message["role"], message["content"]))
    return turns
