"""Reading examples from the public sets in ../shared/data/train: (question, sentence) pairs.

A pair is positive when the sentence answers the question; then `span` is the answer's
character span in the sentence when the set gives one that occurs there. Only the sets whose
licence allows a shipped model are read (the data README): squadshifts, the two SQuAD v1.1
slices, SelQA, TweetQA and BoolQ. Every negative is made here, from the same sets:

- the other sentence of the answer's paragraph that shares the most words with the question
  (the shortcut a SQuAD-trained reader takes is word overlap: this negative punishes it);
- another sentence of the same paragraph or article, at random (on topic, not the fact);
- the answer's own sentence with the answer cut out ("Kim sent troops in October" does not
  say how many), for answers of four words or fewer;
- the answer's own sentence with the question changed: one of its words that the sentence
  shares replaced by another word of the article ("How many people live in Eastfield?"
  against "1,240 people had registered at three shelters"). A sentence holding an answer of
  the right kind, about something else, is what readers' on-topic questions meet most.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qa_bot.ingest.chunking import split_sentences

WORD = re.compile(r"\w+")
STOP = frozenset(
    "a an the of in on at to for by with from and or is was were are be been "
    "did does do what which who whom whose when where why how that this it its "
    "as his her their they he she".split()
)
CUT_ANSWER_WORDS = 4  # answers this short are cut out of their sentence to make a negative
CUT_SHARE = 0.35  # of the positives whose answer is short enough
RANDOM_NEGATIVE_SHARE = 0.5
CHANGED_QUESTION_SHARE = 0.5  # of the positives with a shared word to change


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str
    answers: bool
    span: tuple[int, int] | None  # the answer's characters in `sentence`, when known
    origin: str  # the set and how the pair was made, for the counts in the model card


def content(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOP}


def overlap(question: str, sentence: str) -> float:
    asked = content(question)
    return len(asked & content(sentence)) / len(asked) if asked else 0.0


def changed_question(
    question: str, sentence: str, words: list[str], rng: random.Random
) -> str | None:
    """The question with one word it shares with `sentence` replaced by one of `words` (of the
    same article, in neither), or None when it shares none."""
    tokens = re.findall(r"\w+|\W+", question)
    shared = content(sentence)
    places = [
        i
        for i, t in enumerate(tokens)
        if t.isalpha() and len(t) > 3 and t.lower() in shared and t.lower() not in STOP
    ]
    pool = [w for w in words if w not in shared and w not in question.lower()]
    if not places or not pool:
        return None
    tokens[rng.choice(places)] = rng.choice(pool)
    return "".join(tokens)


def article_words(texts: list[str]) -> list[str]:
    return sorted(
        {
            w
            for t in texts
            for w in WORD.findall(t.lower())
            if w.isalpha() and len(w) > 3 and w not in STOP
        }
    )


def sentences_of(text: str) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.text) for s in split_sentences(text, 0, len(text))]


def paragraph_pairs(
    question: str,
    context: str,
    sentences: list[tuple[int, int, str]],
    answers: list[tuple[int, str]],
    others: list[str],
    words: list[str],
    origin: str,
    rng: random.Random,
) -> Iterator[Pair]:
    """The pairs of one extractive question: its answering sentence, and the negatives."""
    first_start, first_text = answers[0]
    found = [(s, e, t) for s, e, t in sentences if s <= first_start < e]
    if not found or first_start + len(first_text) > found[0][1]:
        return  # the answer runs over a sentence break: no one sentence holds it
    start, end, text = found[0]
    span = (first_start - start, first_start - start + len(first_text))
    yield Pair(question, text, True, span, f"{origin}:answer")
    texts = [a for _, a in answers]
    negatives = [
        t
        for s, e, t in sentences
        if (s, e) != (start, end) and not any(a.lower() in t.lower() for a in texts)
    ]
    if negatives:
        yield Pair(
            question,
            max(negatives, key=lambda t: overlap(question, t)),
            False,
            None,
            f"{origin}:closest-other",
        )
    pool = negatives + [t for t in others if not any(a.lower() in t.lower() for a in texts)]
    if pool and rng.random() < RANDOM_NEGATIVE_SHARE:
        yield Pair(question, rng.choice(pool), False, None, f"{origin}:random-other")
    if words and rng.random() < CHANGED_QUESTION_SHARE:
        changed = changed_question(question, text, words, rng)
        if changed:
            yield Pair(changed, text, False, None, f"{origin}:question-changed")
    short = len(first_text.split()) <= CUT_ANSWER_WORDS
    if short and rng.random() < CUT_SHARE:
        cut = " ".join((text[: span[0]] + text[span[1] :]).split())
        if not any(a.lower() in cut.lower() for a in texts) and content(cut):
            yield Pair(question, cut, False, None, f"{origin}:answer-cut")


def squad_json(path: Path, origin: str, rng: random.Random) -> Iterator[Pair]:
    """SQuAD v1.1 JSON (squadshifts): each question against its paragraph's sentences."""
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        paragraphs = [(p, sentences_of(p["context"])) for p in article["paragraphs"]]
        article_sentences = [t for _, ss in paragraphs for _, _, t in ss]
        words = article_words(article_sentences)
        for paragraph, sentences in paragraphs:
            for qa in paragraph["qas"]:
                answers = [(a["answer_start"], a["text"]) for a in qa["answers"]]
                if not answers:
                    continue
                others = rng.sample(article_sentences, min(8, len(article_sentences)))
                yield from paragraph_pairs(
                    qa["question"],
                    paragraph["context"],
                    sentences,
                    answers,
                    others,
                    words,
                    origin,
                    rng,
                )


def cs224n(folder: Path, rng: random.Random) -> Iterator[Pair]:
    """The tokenised SQuAD v1.1 train slice: spans are token indices into the context."""
    lines = [
        (folder / f"val.{part}").read_text(encoding="utf-8").splitlines()
        for part in ("context", "question", "span")
    ]
    cache: dict[str, list[tuple[int, int, str]]] = {}
    for context, question, span in zip(*lines):
        tokens = context.split()
        first, last = (int(x) for x in span.split())
        start = len(" ".join(tokens[:first])) + (1 if first else 0)
        text = " ".join(tokens[first : last + 1])
        if context[start : start + len(text)] != text:
            continue
        sentences = cache.setdefault(context, sentences_of(context))
        yield from paragraph_pairs(
            question,
            context,
            sentences,
            [(start, text)],
            [],
            article_words([context]),
            "squad1-cs224n",
            rng,
        )


def du2017(folder: Path, rng: random.Random) -> Iterator[Pair]:
    """(answer sentence, question) pairs; neighbouring lines come from the same article."""
    sentences = (folder / "src-test.txt").read_text(encoding="utf-8").splitlines()
    questions = (folder / "tgt-test.txt").read_text(encoding="utf-8").splitlines()
    for i, (sentence, question) in enumerate(zip(sentences, questions)):
        yield Pair(question, sentence, True, None, "squad1-du2017:answer")
        nearby = [s for s in sentences[max(0, i - 30) : i + 30] if s != sentence]
        if nearby:
            yield Pair(
                question,
                max(rng.sample(nearby, min(10, len(nearby))), key=lambda t: overlap(question, t)),
                False,
                None,
                "squad1-du2017:closest-other",
            )


def selqa(folder: Path, rng: random.Random) -> Iterator[Pair]:
    """Answer sentences among the sentences of one Wikipedia section."""
    for name in ("selqa-ass-dev.json", "selqa-ass-test.json"):
        for item in json.loads((folder / name).read_text(encoding="utf-8")):
            candidates, right = item["candidates"], set(item["answers"])
            for i in right:
                yield Pair(item["question"], candidates[i], True, None, "selqa:answer")
            wrong = [c for i, c in enumerate(candidates) if i not in right]
            if wrong:
                yield Pair(
                    item["question"],
                    max(wrong, key=lambda t: overlap(item["question"], t)),
                    False,
                    None,
                    "selqa:closest-other",
                )
                if rng.random() < RANDOM_NEGATIVE_SHARE:
                    yield Pair(
                        item["question"], rng.choice(wrong), False, None, "selqa:random-other"
                    )


def tweetqa(folder: Path, rng: random.Random) -> Iterator[Pair]:
    """News tweets: the answer is a span of the tweet for about 60% of the questions; the
    negative is the tweet, of 40 others, that shares the most words with the question."""
    items = json.loads((folder / "train.json").read_text(encoding="utf-8"))
    tweets = [item["Tweet"] for item in items]
    for item in items:
        tweet, question = item["Tweet"], item["Question"]
        lowered = tweet.lower()
        spans = [(lowered.find(a.lower()), len(a)) for a in item["Answer"] if a.strip()]
        spans = [(s, n) for s, n in spans if s >= 0]
        span = (spans[0][0], spans[0][0] + spans[0][1]) if spans else None
        yield Pair(question, tweet, True, span, "tweetqa:answer")
        others = [t for t in rng.sample(tweets, 40) if t != tweet]
        if rng.random() < CHANGED_QUESTION_SHARE:
            changed = changed_question(question, tweet, article_words(others[:3]), rng)
            if changed:
                yield Pair(changed, tweet, False, None, "tweetqa:question-changed")
        yield Pair(
            question,
            max(others, key=lambda t: overlap(question, t)),
            False,
            None,
            "tweetqa:closest-other",
        )


def boolq(folder: Path, rng: random.Random) -> Iterator[Pair]:
    """Yes/no questions: the passage's sentence sharing most words with the question is taken
    as the one that settles it (a noisy positive), a sentence of another passage about the
    same title or the next passage as the negative."""
    items = [
        json.loads(line)
        for line in (folder / "dev.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    for i, item in enumerate(items):
        question = item["question"].rstrip("?") + "?"
        sentences = [t for _, _, t in sentences_of(item["passage"])]
        best = max(sentences, key=lambda t: overlap(question, t))
        if overlap(question, best) < 0.5:
            continue
        yield Pair(question, best, True, None, "boolq:answer")
        other = [t for _, _, t in sentences_of(items[(i + 1) % len(items)]["passage"])]
        yield Pair(
            question,
            max(other, key=lambda t: overlap(question, t)),
            False,
            None,
            "boolq:other-passage",
        )


def all_pairs(data: Path, seed: int) -> list[Pair]:
    """Every pair of every set allowed in a product, in a fixed order for a seed."""
    rng = random.Random(seed)
    shifts = data / "squadshifts"
    pairs = [
        *squad_json(shifts / "new_wiki_v1.0.json", "squadshifts-wiki", rng),
        *squad_json(shifts / "reddit_v1.0.json", "squadshifts-reddit", rng),
        *squad_json(shifts / "amazon_reviews_v1.0.json", "squadshifts-amazon", rng),
        *cs224n(data / "squad1-train-val-cs224n", rng),
        *du2017(data / "squad1-train-sentq-du2017", rng),
        *selqa(data / "selqa", rng),
        *tweetqa(data / "tweetqa", rng),
        *boolq(data / "boolq", rng),
    ]
    return pairs
