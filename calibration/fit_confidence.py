"""Fit the confidence model: a logistic regression over the grounding features of the sentence
the bot would quote, predicting whether the article answers the question.

    HF_HUB_OFFLINE=1 .venv/bin/python calibration/fit_confidence.py

Fitted on one part of the development data and reported on another (README.md beside this
file); writes the coefficients, by feature name, to qa_bot/models/grounding/confidence.json and
prints the figures of both parts. With --current it reports the coefficients that file holds
instead of fitting.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa_bot.answer.bot import QABot  # noqa: E402
from qa_bot.answer.compose import compose_answer, features, ruled_out, score_sentences, source_floor  # noqa: E402
from qa_bot.answer.fitted import Regression, regression, write_regression  # noqa: E402
from qa_bot.config import bundled_model_path  # noqa: E402
from qa_bot.encoder.embedding import Embedder  # noqa: E402
from qa_bot.evaluation.questions import (  # noqa: E402
    Case,
    case_turns,
    load_cases,
    write_squad_corpus,
)
from qa_bot.indexing.build import build_index  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
# The threshold the grounding regression declined below on its own, before the reader; its
# probability is now one input of the reader's calibration (fit_reader.py).
DECLINE_BELOW = 0.40
MODEL = "grounding/confidence"
# The regression's inputs, in the order of a row's x (compose.features names them).
FEATURES = (
    "on_topic",
    "dense",
    "sentence_cover",
    "passage_cover",
    "unknown",
    "missing_name",
    "type_missing",
    "phrase_fit",
    "noun_match",
    "meaning_cover",
    "weakest_match",
    "piece_weakest",
    "piece_cover",
)
# Of the SQuAD 2.0 training sample: the two articles with unanswerable questions, and a share of
# the questions of two that have none (all of them would swamp the rest).
TRAIN_ARTICLES = (
    "The_Legend_of_Zelda_Twilight_Princess.txt",
    "Spectre_2015_film.txt",
    "IPod.txt",
    "2008_Sichuan_earthquake.txt",
)
ANSWERABLE_ONLY_QUESTIONS = 120
# The product answers news articles: the questions written about news stories count this many
# times a SQuAD question in the fit.
NEWS = ("article-more", "eastfield-flood", "halvorsen-freshcrate", "millbrook-election")
NEWS_WEIGHT = 3.0
ANSWERED_TARGET = 0.92  # of answerable questions in the fit part
SHARED = ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Row:
    part: str  # "fit" or "test"
    group: str  # data set and kind, for the report
    question: str
    x: tuple[float, ...]
    answerable: bool
    right: bool  # the sentence(s) it would quote hold an accepted answer
    ruled_out: bool  # declined by rule whatever the weights (answer.ruled_out): not fitted
    floor: float  # the confidence a rule grants whatever the weights (answer.source_floor)


def squad_parts(path: Path) -> dict[str, tuple[dict[str, list[str]], list[Case]]]:
    """A SQuAD file's articles, with its questions split by paragraph: even ones to fit, odd
    ones to test (Normans)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    cases, articles = load_cases(path)
    by_question = {}
    for article in data["data"]:
        for number, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                by_question[qa["question"]] = "fit" if number % 2 == 0 else "test"
    parts: dict[str, list[Case]] = {"fit": [], "test": []}
    for case in cases:
        parts[by_question[case.question]].append(case)
    assert articles is not None
    return {part: (articles, chosen) for part, chosen in parts.items()}


def jsonl_cases(path: Path) -> list[Case]:
    return load_cases(path)[0]


def bot_for(
    name: str,
    articles: dict[str, list[str]] | None,
    corpus_files: list[Path],
    embedder: Embedder,
    scratch: Path,
) -> QABot:
    """A bot over a corpus of the SQuAD `articles` or of `corpus_files`, its index built in
    `scratch`/`name` unless an earlier run left it there."""
    folder = scratch / name
    corpus = folder / "corpus"
    index = folder / "index"
    if not index.exists():
        if articles:
            write_squad_corpus(articles, corpus)
        else:
            corpus.mkdir(parents=True, exist_ok=True)
            for file in corpus_files:
                (corpus / file.name).write_text(file.read_text(encoding="utf-8"), encoding="utf-8")
        build_index(corpus, index, bundled_model_path(), embedder=embedder)
    return QABot(index, embedder)


def rows_for(
    name: str,
    part: str,
    articles: dict[str, list[str]] | None,
    corpus_files: list[Path],
    cases: list[Case],
    embedder: Embedder,
    scratch: Path,
) -> list[Row]:
    bot = bot_for(name, articles, corpus_files, embedder, scratch)
    print(f"{name}: {len(cases)} questions", file=sys.stderr, flush=True)
    rows = []
    for case in cases:
        _, retrieval, read = bot.ask_with_evidence(case.question, case_turns(case), case.source)
        ranked = score_sentences(case.question, retrieval)
        if not ranked:
            continue
        said = compose_answer(
            case.question, retrieval, read, bot.reader.calibration, decline_below=0.0
        ).answer.lower()
        right = any(a.lower() in said for a in case.answers)
        kind = case.kind or ("answerable" if case.answers else "unanswerable")
        best = ranked[0]
        rows.append(
            Row(
                part,
                f"{name}:{kind}",
                case.question,
                tuple(features(best.evidence, retrieval)[name] for name in FEATURES),
                bool(case.answers),
                right,
                ruled_out(case.question, best),
                source_floor(retrieval, best),
            )
        )
    return rows


def collect(embedder: Embedder, scratch: Path) -> list[Row]:
    rows: list[Row] = []
    article = [DATA.parent.parent / "corpus" / "north-korea-troops-ukraine.txt"]
    for part, (articles, cases) in squad_parts(DATA / "squad2-normans.json").items():
        rows += rows_for(f"normans-{part}", part, articles, [], cases, embedder, scratch)
    cases, articles = load_cases(DATA / "squad2-train-sample.json")
    assert articles is not None
    for source in TRAIN_ARTICLES:
        chosen = [c for c in cases if c.source == source]
        if not any(c.kind == "unanswerable" for c in chosen):
            chosen = chosen[:: max(1, len(chosen) // ANSWERABLE_ONLY_QUESTIONS)]
        rows += rows_for(
            source.removesuffix(".txt"),
            "fit",
            {source: articles[source]},
            [],
            chosen,
            embedder,
            scratch,
        )
    # The sample's other six articles (answerable questions only) are never fitted on: articles
    # the confidence model has not seen, as the unseen SQuAD articles.
    for source in sorted(set(articles) - set(TRAIN_ARTICLES)):
        rows += rows_for(
            source.removesuffix(".txt"),
            "test",
            {source: articles[source]},
            [],
            [c for c in cases if c.source == source],
            embedder,
            scratch,
        )
    rows += rows_for(
        "article-more",
        "fit",
        None,
        article,
        jsonl_cases(DATA / "article-more.jsonl"),
        embedder,
        scratch,
    )
    for text in sorted((DATA / "fit").glob("*.txt")):
        rows += rows_for(
            text.stem,
            "fit",
            None,
            [text],
            jsonl_cases(text.with_suffix(".jsonl")),
            embedder,
            scratch,
        )
    rows += rows_for(
        "article-heldout",
        "test",
        None,
        article,
        jsonl_cases(DATA / "article-heldout.jsonl"),
        embedder,
        scratch,
    )
    for name in ("article-questions", "article-offtopic", "article-unanswerable"):
        path = SHARED / f"{name}.jsonl"
        if path.exists():
            rows += rows_for(name, "test", None, article, jsonl_cases(path), embedder, scratch)
    return rows


def fit(rows: list[Row]) -> tuple[np.ndarray, float]:
    """Weights and bias; news-style questions weigh NEWS_WEIGHT times a SQuAD question."""
    from sklearn.linear_model import LogisticRegression

    chosen = [r for r in rows if r.part == "fit" and not r.ruled_out]
    x = np.array([r.x for r in chosen])
    y = np.array([r.answerable for r in chosen])
    weights = [NEWS_WEIGHT if r.group.split(":")[0] in NEWS else 1.0 for r in chosen]
    model = LogisticRegression(C=1.0, max_iter=3000).fit(x, y, sample_weight=weights)
    return model.coef_[0], float(model.intercept_[0])


def threshold(rows: list[Row], weights: np.ndarray, bias: float) -> float:
    """The highest decline threshold (in steps of 0.05) that still answers ANSWERED_TARGET of
    the answerable questions of the fit part."""
    p = confidences([r for r in rows if r.part == "fit" and r.answerable], weights, bias)
    candidates = [t / 100 for t in range(5, 96, 5) if (p >= t / 100).mean() >= ANSWERED_TARGET]
    return max(candidates, default=0.05)


def confidences(rows: list[Row], weights: np.ndarray, bias: float) -> np.ndarray:
    """The bot's confidence for each row, as answer.confidence computes it: 0 when a rule
    declines, at least the floor a rule grants, the fitted probability otherwise."""
    fitted = 1 / (1 + np.exp(-(np.array([r.x for r in rows]) @ weights + bias)))
    floor = np.array([r.floor for r in rows])
    kept = np.array([not r.ruled_out for r in rows])
    return np.maximum(fitted, floor) * kept


def report(rows: list[Row], weights: np.ndarray, bias: float, threshold: float) -> None:
    for part in ("fit", "test"):
        print(f"\n{part}:")
        groups = sorted({r.group for r in rows if r.part == part})
        for group in groups:
            chosen = [r for r in rows if r.part == part and r.group == group]
            answered = confidences(chosen, weights, bias) >= threshold
            if chosen[0].answerable:
                right = sum(1 for r, a in zip(chosen, answered) if a and r.right)
                print(
                    f"  {group:<42} n={len(chosen):4}  answered {answered.mean():6.1%}  "
                    f"right {right / len(chosen):6.1%}  (right if never declined "
                    f"{np.mean([r.right for r in chosen]):6.1%})"
                )
            else:
                print(f"  {group:<42} n={len(chosen):4}  declined {1 - answered.mean():6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threshold",
        type=float,
        help="report at this decline threshold "
        "(default: the highest that answers ANSWERED_TARGET in the fit part)",
    )
    parser.add_argument("--cache", type=Path, help="keep the feature rows in this JSON file")
    parser.add_argument(
        "--current",
        action="store_true",
        help="report the coefficients in qa_bot/answer/compose.py instead of fitting new ones",
    )
    args = parser.parse_args()
    if args.cache and args.cache.exists():
        rows = [Row(**{**r, "x": tuple(r["x"])}) for r in json.loads(args.cache.read_text())]
    else:
        embedder = Embedder.load(bundled_model_path())
        with tempfile.TemporaryDirectory() as scratch:
            rows = collect(embedder, Path(scratch))
        if args.cache:
            args.cache.write_text(json.dumps([r.__dict__ for r in rows]))
    if args.current:
        current = regression(MODEL)
        weights, bias = np.array([current.weights.get(n, 0.0) for n in FEATURES]), current.bias
    else:
        weights, bias = fit(rows)
        fitted = Regression(
            round(float(bias), 3),
            {n: round(float(w), 3) for n, w in zip(FEATURES, weights)},
            f"calibration/fit_confidence.py, {date.today()}, on the fit part of "
            "calibration/README.md",
        )
        print(f"wrote {write_regression(MODEL, fitted).relative_to(ROOT)}")
    chosen = args.threshold or (DECLINE_BELOW if args.current else threshold(rows, weights, bias))
    print(f"DECLINE_BELOW = {chosen:.2f}")
    report(rows, weights, bias, chosen)


if __name__ == "__main__":
    main()
