"""What the question log adds to an answer, printed as a Markdown table.

Measures, on a fresh log file in a temporary folder:
  * `QuestionLog.record` (one INSERT with retention deletes, in one BEGIN IMMEDIATE
    transaction, WAL mode): median, p90, p99 and max over --records calls in one process;
  * the same while --writers processes write to the same file at once (each its own share);
  * `QuestionLog.add_feedback`: median;
  * for scale, `QABot.ask` on the article in the same process (median over the built-in
    questions), so the log's share of an answer is a ratio taken in one run.

Run from the repository root:
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/questionlog.py [--records 3000] [--writers 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from _common import ENV, FALLBACK_QUESTIONS, PYTHON, ROOT, median, print_machine, print_table

from qa_bot.answer.result import Answer, ShortAnswer
from qa_bot.questionlog.log import QuestionLog


def answer(number: int) -> Answer:
    return Answer(
        f"How many soldiers arrived in Vladivostok, question {number}?",
        "Around 1,500 North Korean special forces arrived. [1]",
        True,
        0.93,
        (),
        ShortAnswer("1,500", "north-korea-troops-ukraine.txt", 0, 5),
        id=uuid.uuid4().hex,
    )


def record_times(path: Path, count: int) -> list[float]:
    log = QuestionLog(path)
    times = []
    for number in range(count):
        given = answer(number)
        began = time.perf_counter()
        log.record(given, channel="api", source=None, latency=0.013, client="192.0.2.1")
        times.append(time.perf_counter() - began)
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("PATH", "COUNT"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(record_times(Path(args.child[0]), int(args.child[1]))))
        return

    folder = Path(tempfile.mkdtemp(prefix="qa-log-bench-"))
    try:
        alone = record_times(folder / "alone.sqlite3", args.records)
        log = QuestionLog(folder / "rated.sqlite3")
        rated = [answer(n) for n in range(500)]
        for given in rated:
            log.record(given, channel="api", source=None, latency=0.013, client="192.0.2.1")
        feedback = []
        for given in rated:
            began = time.perf_counter()
            log.add_feedback(given.id, True)
            feedback.append(time.perf_counter() - began)

        share = args.records // args.writers
        children = [
            subprocess.Popen(
                [PYTHON, __file__, "--child", str(folder / "shared.sqlite3"), str(share)],
                cwd=ROOT,
                env=ENV,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(args.writers)
        ]
        together = [t for child in children for t in json.loads(child.communicate()[0])]

        from qa_bot.answer.bot import QABot
        from qa_bot.config import Settings
        from qa_bot.indexing.build import build_index

        build_index(ROOT / "corpus", folder / "index", Settings().model_path)
        bot = QABot.from_settings(Settings(index_dir=folder / "index"))
        asks = []
        for _ in range(5):
            for question in FALLBACK_QUESTIONS:
                began = time.perf_counter()
                bot.ask(question)
                asks.append(time.perf_counter() - began)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print_machine()
    ask_median = median(asks)
    rows = [
        [
            f"`record`, one process ({len(alone)} calls)",
            ms(median(alone)),
            ms(quantile(alone, 0.9)),
            ms(quantile(alone, 0.99)),
            ms(max(alone)),
            f"{median(alone) / ask_median:.1%}",
        ],
        [
            f"`record`, {args.writers} processes at once ({len(together)} calls)",
            ms(median(together)),
            ms(quantile(together, 0.9)),
            ms(quantile(together, 0.99)),
            ms(max(together)),
            f"{median(together) / ask_median:.1%}",
        ],
        [
            f"`add_feedback` ({len(feedback)} calls)",
            ms(median(feedback)),
            ms(quantile(feedback, 0.9)),
            ms(quantile(feedback, 0.99)),
            ms(max(feedback)),
            "",
        ],
        [
            f"`QABot.ask`, for scale ({len(asks)} asks)",
            ms(ask_median),
            ms(quantile(asks, 0.9)),
            ms(quantile(asks, 0.99)),
            ms(max(asks)),
            "100%",
        ],
    ]
    print_table(["what", "median", "p90", "p99", "max", "of an answer (median)"], rows)


if __name__ == "__main__":
    main()
