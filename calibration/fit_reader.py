"""Fit the reader's calibration: `qa_bot/models/reader/calibration.json`.

For every question of the fit half (calibration/data/fit/, each story indexed alone, and
article-more.jsonl over corpus/), it asks the bot and records, for every sentence the reader
read, the reader's logit, the grounding checks' probability (answer.grounded_confidences) and
whether the sentence holds an accepted answer.
A logistic regression over the logit and the log-odds of the grounding probability gives
`confidence`: the probability that the quote answers. The bot quotes the most confident
sentence, so the regression is fitted on the sentences it chooses, refitted until the choice
settles; a sentence a rule rules out (probability 0) is declined whatever the weights, and left
out of the fit. The decline threshold is the lowest that
declines ON_TOPIC_DECLINED of the fit half's on-topic questions the articles do not answer
(the issue's 60%, with 5 points to spare for articles unlike the fit half's): it answers as
much as that allows. The reported half (calibration/data/reported/) is then only reported.

```sh
HF_HUB_OFFLINE=1 .venv/bin/python calibration/fit_reader.py [--rows rows.json]
```
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa_bot.answer.bot import QABot  # noqa: E402
from qa_bot.answer.compose import grounded_confidences  # noqa: E402
from qa_bot.answer.reader import GROUNDED_FLOOR, READER_FOLDER, Calibration, Reader  # noqa: E402
from qa_bot.config import bundled_model_path  # noqa: E402
from qa_bot.encoder.embedding import Embedder  # noqa: E402
from qa_bot.evaluation.questions import ON_TOPIC, case_turns, load_sets  # noqa: E402
from qa_bot.indexing.build import build_index  # noqa: E402

DATA = ROOT / "calibration" / "data"
L2 = 0.01  # a little shrinkage: two features, a few hundred questions
ON_TOPIC_DECLINED = 0.65
FIT_ROUNDS = 4  # the choice settled after two on the fit half


def rows_of(
    paths: list[Path], part: str, reader: Reader, embedder: Embedder, scratch: Path
) -> list[dict]:
    rows = []
    for number, question_set in enumerate(load_sets(paths)):
        work = scratch / f"{part}-{number}"
        corpus = ROOT / "corpus"
        if question_set.articles is not None:
            corpus = work / "corpus"
            corpus.mkdir(parents=True)
            for name, text in question_set.articles.items():
                (corpus / name).write_text(text, encoding="utf-8")
        build_index(corpus, work / "index", bundled_model_path(), embedder=embedder)
        bot = QABot(work / "index", embedder, reader=reader)
        print(f"{part}: {question_set.name}, {len(question_set.cases)} questions", file=sys.stderr)
        for case in question_set.cases:
            _, retrieval, read = bot.ask_with_evidence(case.question, case_turns(case), case.source)
            answers = [a.lower() for a in case.answers]
            rows.append(
                {
                    "part": part,
                    "article": question_set.name,
                    "kind": case.kind,
                    "answerable": bool(case.answers),
                    "on_topic": not case.answers and case.kind in ON_TOPIC,
                    "candidates": [
                        {
                            "logit": r.reading.logit,
                            "grounded": grounded,
                            "right": any(a in r.candidate.sentence.text.lower() for a in answers),
                        }
                        for r, grounded in zip(
                            read, grounded_confidences(case.question, retrieval, read)
                        )
                    ],
                }
            )
    return rows


def inputs(rows: list[dict]) -> np.ndarray:
    grounded = np.clip([r["grounded"] for r in rows], GROUNDED_FLOOR, 1 - GROUNDED_FLOOR)
    return np.column_stack(
        [[r["logit"] for r in rows], np.log(grounded / (1 - grounded)), np.ones(len(rows))]
    )


def fit(rows: list[dict]) -> np.ndarray:
    """Logistic regression by Newton's method: weights for (logit, log-odds, 1)."""
    x, y = inputs(rows), np.array([float(r["right"]) for r in rows])
    weights = np.zeros(x.shape[1])
    penalty = np.diag([L2, L2, 0.0])
    for _ in range(50):
        p = 1 / (1 + np.exp(-x @ weights))
        gradient = x.T @ (p - y) + penalty @ weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return weights


def quoted(rows: list[dict], calibration: Calibration) -> list[dict]:
    """Per question, the candidate the bot quotes under `calibration` (the most confident),
    with its confidence; a question with nothing to read has confidence 0."""
    chosen = []
    for row in rows:
        scored = [
            {**c, "confidence": calibration.confidence(c["logit"], c["grounded"])}
            for c in row["candidates"]
        ]
        best = max(
            scored,
            key=lambda c: c["confidence"],
            default={"logit": 0.0, "grounded": 0.0, "right": False, "confidence": 0.0},
        )
        chosen.append({**row, **best})
    return chosen


def fitted(rows: list[dict]) -> Calibration:
    """The weights, refitted on what they choose until the choice settles (the reader's own
    probability chooses first)."""
    calibration = Calibration()
    for _ in range(FIT_ROUNDS):
        chosen = [r for r in quoted(rows, calibration) if r["grounded"] > 0]  # else declined
        weights = fit(chosen)
        calibration = Calibration(
            round(float(weights[0]), 4),
            round(float(weights[1]), 4),
            round(float(weights[2]), 4),
            0.5,
        )
    return calibration


def threshold(rows: list[dict], confidences: np.ndarray) -> float:
    """The lowest threshold that declines ON_TOPIC_DECLINED of the on-topic questions."""
    on_topic = np.sort(confidences[np.array([r["on_topic"] for r in rows])])
    return float(on_topic[int(np.ceil(ON_TOPIC_DECLINED * len(on_topic))) - 1]) + 1e-4


def figures(rows: list[dict], confidences: np.ndarray, t: float) -> str:
    answered = confidences >= t
    answerable = np.array([r["answerable"] for r in rows])
    right = np.array([r["right"] for r in rows])
    on_topic = np.array([r["on_topic"] for r in rows])
    off_topic = ~answerable & ~on_topic
    share = lambda part, whole: part.sum() / max(whole.sum(), 1)  # noqa: E731
    pos, neg = confidences[answerable], confidences[on_topic]
    auc = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / max(
        pos.size * neg.size, 1
    )
    return (
        f"{answerable.sum()} answerable: right {share(answered & right, answerable):.1%}, "
        f"wrong {share(answered & ~right & answerable, answerable):.1%}, declined "
        f"{share(~answered & answerable, answerable):.1%}; on-topic declined "
        f"{share(~answered & on_topic, on_topic):.1%} of {on_topic.sum()}; off-topic "
        f"declined {share(~answered & off_topic, off_topic):.1%}; AUC {auc:.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=Path, help="cache the asked questions in this JSON file")
    args = parser.parse_args()
    if args.rows and args.rows.exists():
        rows = json.loads(args.rows.read_text(encoding="utf-8"))
    else:
        reader, embedder = Reader(), Embedder.load(bundled_model_path())
        with tempfile.TemporaryDirectory(prefix="fit-reader-") as scratch:
            rows = rows_of(
                [DATA / "fit", DATA / "article-more.jsonl"], "fit", reader, embedder, Path(scratch)
            ) + rows_of([DATA / "reported"], "reported", reader, embedder, Path(scratch))
        if args.rows:
            args.rows.write_text(json.dumps(rows), encoding="utf-8")
    calibration = fitted([r for r in rows if r["part"] == "fit"])
    chosen = {
        part: quoted([r for r in rows if r["part"] == part], calibration)
        for part in ("fit", "reported")
    }
    confidences = {
        part: np.array([r["confidence"] for r in part_rows]) for part, part_rows in chosen.items()
    }
    calibration = replace(
        calibration, decline_below=round(threshold(chosen["fit"], confidences["fit"]), 4)
    )
    (READER_FOLDER / "calibration.json").write_text(
        json.dumps(asdict(calibration), indent=2) + "\n", encoding="utf-8"
    )
    print(f"calibration: {asdict(calibration)}")
    for part in ("fit", "reported"):
        print(f"{part}: {figures(chosen[part], confidences[part], calibration.decline_below)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
