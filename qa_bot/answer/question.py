"""Reading a question: its content words, the kind of answer it wants, and follow-ups.

Pure text functions, no model: they feed retrieval (what to search for) and answer composition
(which sentence actually answers).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

WORD = re.compile(r"[\w'’%-]+")
# A standard English stopword list, plus question words, the words readers use to refer to
# the article itself ("according to the article, what ...") and the verbs of "what happened?",
# and the "many" and "much" of "how many", "how much".
STOPWORDS = frozenset(
    """
a about above after again against all am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
don't down during each few for from further had hadn't has hasn't have haven't having he he'd
he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into
is isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only
or other ought our ours ourselves out over own same shan't she she'd she'll she's should
shouldn't so some such than that that's the their theirs them themselves then there there's
these they they'd they'll they're they've this those through to too under until up very was
wasn't we we'd we'll we're we've were weren't what what's when when's where where's which while
who who's whom whose why why's with won't would wouldn't you you'd you'll you're you've your yours
yourself yourselves also s t according article say says said one
happen happens happened happening occur occurs occurred many much
""".split()
)
# Words that point back to something said earlier in the conversation.
REPORTING_VERB = (
    r"(report|reported|reports|say|says|said|announce[ds]?|claim(s|ed)?|"
    r"confirm(s|ed)?|state[ds]?|reveal(s|ed)?|tell|told|write|wrote|publish(es|ed)?)"
)
ASKS_FOR_SOURCE = re.compile(
    r"^\s*who\s+(first\s+|originally\s+|initially\s+)?" + REPORTING_VERB + r"\b"
    r"|\baccording to (whom|who|which|what)\b"
    r"|\b(which|what)\s+(news\s+)?(outlet|newspaper|paper|agency|publication|site|media|source)\b"
    r"|\bsources?\s+(of|for|behind)\b",
    re.IGNORECASE,
)
# "What did the White House say about ...?", "What has NATO said?": a question asking what
# someone said (a subject of a few words, then the verb), not what the article itself says
# ("What does the article say motivates ...?") nor "What is the state of ...?".
ASKS_WHAT_WAS_SAID = re.compile(
    r"^\s*what\s+(did|does|do|has|have|had)\s+"
    r"(?!(the|this)\s+(article|report|story|piece|headline|author)\b)"
    r"([\w'’.-]+\s+){1,5}(say|said|state|stated|tell|told|report|reported|announce|announced|"
    r"claim|claimed|comment|commented|write|wrote|argue|argued|warn|warned)\b",
    re.IGNORECASE,
)
# What a sentence that reports a statement holds: a verb of saying, "according to", a quotation.
STATEMENT = re.compile(
    r"\b(" + REPORTING_VERB + r"|saying|statement|according to|argue[ds]?|warn(s|ed)?|"
    r"declare[ds]?|insist(s|ed)?|comment(s|ed)?)\b|[\"“”]",
    re.IGNORECASE,
)
# "When will ...?", "Where is the group expected to go?", "Will X cut jobs?": a question about
# what is to come, which a sentence speaking only of the past does not answer. Limited to when,
# where, who and yes-or-no questions: on SQuAD "what will ..." often asks what a thing does
# ("What characters will be able to replenish arrows?"), which a sentence in the present
# answers.
ASKS_ABOUT_FUTURE = re.compile(
    r"^\s*(?:(?:(?:until|by|from)\s+)?(?:when|where|who|whom)\s+(?:will|shall)\b"
    r"|(?:when|where|who)\s+(?:is|are)\s+(?:[\w'’-]+\s+){1,6}?"
    r"(?:expected|scheduled|slated|going|due|set|planned)\s+to\b"
    r"|will\s)",
    re.IGNORECASE,
)
# What a sentence speaking of what is to come holds: a future or conditional, a plan, a
# schedule, an expectation.
FUTURE = re.compile(
    r"\b(will|would|shall|won['’]t|\w+['’]ll|expect(s|ed|ing)?|anticipated|projected|"
    r"forecasts?|scheduled|planned|plans?|set to|slated|going to|due (to be|on|in|by)|to be|"
    r"(is|are) to|poised to|about to|ready to|prepar(e|es|ed|ing) to|next|upcoming|until|"
    r"later|soon|intend(s|ed)?|aims?)\b",
    re.IGNORECASE,
)
# A number as written: "1,500", "9th", "1990s", "100m", "DB10"; a hyphen or a dash parts two
# ("2013-14", "6th-generation").
NUMBER = re.compile(r"[A-Za-z]*\d[\d,]*(?:\.\d+)?[A-Za-z]*")
CARDINAL_WORDS = {
    word: str(value)
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
} | {
    word: str(10 * tens)
    for tens, word in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), 3)
}
NUMBER_WORDS = CARDINAL_WORDS | {
    word: str(value)
    for value, word in enumerate(
        "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
        "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
        "twentieth".split()
    )
}
# Numbers written short: the second year of a range ("2013-14", "2004–05", "1999-00"), a
# decade of the twentieth century ("the '60s"), a quarter ("Q2").
SHORT_RANGE = re.compile(r"\b((?:1\d|20)\d\d)(\s*[-–—‑−]\s*)(\d\d?)\b")
SHORT_DECADE = re.compile(r"[’']\s?(\d)0s\b")
QUARTER = re.compile(r"\bQ([1-4])\b", re.IGNORECASE)
DECADE = re.compile(r"^\d{3}0s$")
ANAPHORS = frozenset(
    "they them their theirs it its he him his she her hers this these those there".split()
)


# The kind of answer a question asks for, read from its first question word ("how many",
# "when", "who", "where") or from the noun after "which"/"what" ("which country", "what year").
QUESTION_WORD = re.compile(
    r"\b(how (?:many|much|long|far|old|large|big|high|tall|heavy|fast)|when|where|whom|whose|"
    r"who|which|what|why|how)\b",
    re.IGNORECASE,
)
NOUN_TYPES = {
    # Not "figure": "which Amiibo figure", "which historical figure" ask for a name.
    "number": "number percentage percent proportion share amount fraction rate total sum count "
    "quantity size population",
    "date": "year month day date decade century time period era season week",
    "person": "person people man woman men women leader president general king queen emperor "
    "commander minister official officer author writer founder ruler pope duke count "
    "bishop chief spokesman spokesperson journalist reporter scientist player coach "
    "prime premier chancellor governor mayor senator politician",
    "organisation": "company organisation organization agency newspaper outlet publication "
    "group party government institution university firm bank media",
    "place": "country city region state province town village nation place area continent "
    "island river sea ocean territory capital location site port county district "
    "border front",
}
TYPE_OF_NOUN = {noun: kind for kind, nouns in NOUN_TYPES.items() for noun in nouns.split()}
TYPE_OF_NOUN.update({noun + "s": kind for noun, kind in list(TYPE_OF_NOUN.items())})
HOW_TYPES = {
    "many": "number",
    "much": "number",
    "long": "duration",
    "far": "number",
    "old": "number",
    "large": "number",
    "big": "number",
    "high": "number",
    "tall": "number",
    "heavy": "number",
    "fast": "number",
}
# Singular too: readers type "how many day did filming take".
TIME_UNITS = frozenset(
    "second seconds minute minutes hour hours day days week weeks month months "
    "year years decade decades century centuries".split()
)
AUXILIARIES = frozenset(
    "is are was were do does did has have had can could will would should "
    "may might must of in on at to for by from with".split()
)
# Capitalised words after the first: the names a question is about ("the White House").
NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w’'.-]*(?:\s+(?:of\s+(?:the\s+)?)?[A-Z][\w’'.-]*)*")
ABOUT_HEADLINE = re.compile(r"\b(headline|title)\b", re.IGNORECASE)
DOCUMENT_WORDS = frozenset("article story report piece".split())
HEADLINE_WORDS = frozenset({"headline", "title", *DOCUMENT_WORDS})
NEGATIONS = frozenset("not no never nothing without".split())


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'").strip(".,-") for w in WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """The words of `text` that carry meaning: no stopwords, no question words, no "'s"."""
    tokens = [w[:-2] if w.endswith("'s") else w for w in words(text)]
    return [w for w in tokens if w and w not in STOPWORDS]


def answer_type(question: str) -> str | None:
    """What the question asks for: number, duration, date, person, organisation or place;
    None for what/why/how questions that want a description."""
    match = QUESTION_WORD.search(question)
    if not match:
        return None
    word = match.group(1).lower()
    if word.startswith("how "):
        kind = HOW_TYPES[word.split()[1]]
        following = words(question[match.end() :])[:1]
        if kind == "number" and following and following[0] in TIME_UNITS:
            return "duration"  # "how many years": "22 years", an amount of time
        return kind
    if word in ("who", "whom", "whose"):
        return "person"
    if word in ("when", "where"):
        return {"when": "date", "where": "place"}[word]
    if word in ("which", "what"):
        return _asked_noun_type(question[match.end() :])
    return None


def _asked_noun_type(rest: str) -> str | None:
    """The type of the noun after "which"/"what": "which Russian region did" -> place."""
    kind = None
    for word in words(rest)[:4]:
        if word in AUXILIARIES:
            break
        kind = TYPE_OF_NOUN.get(word.removesuffix("'s"), kind)
    return kind


def asked_noun(question: str) -> str | None:
    """The noun a question asks about: the first content word after "what"/"which" ("What
    river ...") or the last before the verb after "how many"/"how much" ("How many North Korean
    soldiers speak ...": "soldiers")."""
    match = QUESTION_WORD.search(question)
    if not match:
        return None
    word = match.group(1).lower()
    following = words(question[match.end() :])
    if word in ("which", "what"):
        # Past names and adjectives of nationality: "which Russian general" -> "general".
        as_typed = WORD.findall(question[match.end() :])[:4]
        nouns = [(w, t) for w, t in zip(following, as_typed) if w not in STOPWORDS]
        common = [w for w, t in nouns if t[:1].islower()]
        return next(iter(common or [w for w, _ in nouns]), None)
    if word in ("how many", "how much"):
        # No parser here: the counted noun is the run's first plural ("North Korean soldiers
        # speak" -> "soldiers"), else its first word ("how much money").
        run: list[str] = []
        for w in following[:6]:
            if not run and w in ("more", "of", "the", "other"):  # "how many more soldiers"
                continue
            if w in STOPWORDS or w in AUXILIARIES:
                break
            run.append(w)
        plurals = [w for w in run if w.endswith("s") and not w.endswith("ss")]
        return next(iter(plurals or run), None)
    return None


def names(question: str) -> list[str]:
    """The capitalised names in a question after its first word: "the White House"."""
    found = []
    for match in NAME.finditer(question.strip()):
        name = re.sub(r"['’]s$", "", match.group(0)).strip(" .’'")
        if name.lower() not in STOPWORDS and name.upper() != "I":
            found.append(name)
    return found


def asks_about_headline(question: str) -> bool:
    return bool(ABOUT_HEADLINE.search(question))


def asks_for_headline(question: str) -> bool:
    """Whether the question asks for the headline itself ("What is the title of the
    article?"), not for what it says of something ("What does the headline say about Kim?"),
    what it leaves out ("What is not in the headline?"), or another title ("What was the
    title?" of a championship)."""
    said = set(words(question))
    return (
        set(content_words(question)) <= HEADLINE_WORDS
        and ("headline" in said or "title" in said and bool(said & DOCUMENT_WORDS))
        and not any(w in NEGATIONS or w.endswith("n't") for w in said)
    )


def asks_for_source(question: str) -> bool:
    """Whether the question asks who reported or said something ("Who reported ...?")."""
    return bool(ASKS_FOR_SOURCE.search(question))


def asks_what_was_said(question: str) -> bool:
    """Whether the question asks what someone said ("What has NATO said about ...?")."""
    return bool(ASKS_WHAT_WAS_SAID.search(question))


def reports_a_statement(sentence: str) -> bool:
    """Whether the sentence reports someone saying something: "X said", "according to X"."""
    return bool(STATEMENT.search(sentence))


def asks_about_future(question: str) -> bool:
    """Whether the question asks when, where or who about what is to come ("When will the
    bridge reopen?"), or whether something will happen ("Will Halvorsen cut jobs?"). A "Will"
    followed by a question word is a name: "Will Smith starred in which film?"."""
    if re.match(r"\s*will\s", question, re.IGNORECASE) and QUESTION_WORD.search(question, 5):
        return False
    return bool(ASKS_ABOUT_FUTURE.search(question))


def speaks_of_future(sentence: str) -> bool:
    """Whether the sentence says something of what is to come: "will", "is expected to"."""
    return bool(FUTURE.search(sentence))


def numbers(text: str) -> set[str]:
    """The numbers a text holds, in digits or in words, each as its digits: "6th-generation"
    and "sixth" are 6, "1,500" is 1500, "100m" 100, "2013-14" 2013 and 2014; a code keeps its
    letters ("DB10s" is db10, "MI6" mi6); a decade is its first three digits and "*" ("the
    1970s", "the '70s": 197*)."""
    return _written_in_digits(text) | {
        NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in NUMBER_WORDS
    }


def named_numbers(question: str) -> set[str]:
    """The numbers a question writes in digits, which its answer's passage must hold ("in
    1066", "the 9th century", "the MI66 building"). A lone digit is left out: "which 3
    musicians" counts what the passage may list without saying how many. Words are left out
    too: "the first troops" names no number."""
    return {
        n
        for n in _written_in_digits(question)
        if not (len(n) == 1 and re.search(rf"(?<![\w.,]){n}(?![\w.,])", question))
    }


def missing_numbers(question: str, passage: str) -> set[str]:
    """The numbers the question names that the passage does not hold, however either writes
    them; a decade is held by any year in it ("the 1970s": "1973")."""
    held = numbers(passage)
    return {
        n
        for n in named_numbers(question)
        if n not in held
        and not (n.endswith("*") and any(len(h) == 4 and h.startswith(n[:3]) for h in held))
    }


def _range_in_full(match: re.Match[str]) -> str:
    """A range of years with its second year written short, in full: the second year is the
    next one after the first that ends in those digits ("2013-14" is 2013-2014, "1999-00"
    1999-2000, "2008-9" 2008-2009)."""
    first, dash, short = int(match[1]), match[2], match[3]
    step = 10 ** len(short)
    second = first - first % step + int(short)
    return f"{first}{dash}{second + step if second < first else second}"


def _written_in_digits(text: str) -> set[str]:
    text = SHORT_RANGE.sub(_range_in_full, text)
    text = QUARTER.sub(r"quarter \1", SHORT_DECADE.sub(r"19\g<1>0s", text))
    found = set()
    for token in NUMBER.findall(text):
        token = token.lower().replace(",", "")
        if DECADE.match(token):
            found.add(token[:3] + "*")
        elif token[0].isdigit():
            found.add(re.sub(r"[a-z]+$", "", token))
        else:
            found.add(re.sub(r"(?<=\d)s$", "", token))
    return found


def is_followup(question: str) -> bool:
    """A question that leans on the conversation: it uses a pronoun or says almost nothing."""
    return any(w in ANAPHORS for w in words(question)) or len(set(content_words(question))) < 2


def previous_question(question: str, history: list[Turn]) -> str | None:
    """The question `question` follows up on, else None.

    In a chain of follow-ups ("How many came?", "When?", "Where?") that is the last question
    that stood on its own."""
    if not is_followup(question):
        return None
    asked = [turn.content for turn in history if turn.role == "user" and turn.content.strip()]
    standalone = [q for q in asked if not is_followup(q)]
    return next(reversed(standalone or asked), None)


def fold_accents(text: str) -> str:
    """The text without its accents: "Hervé" -> "Herve"."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
