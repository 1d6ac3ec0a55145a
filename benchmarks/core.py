"""Core figures on the real article corpus (corpus/), printed as Markdown tables.

Measures, each in fresh processes where start-up matters:
  * `python -c pass` wall time (bare interpreter start-up, the unit for the ratios below), and
    `python -c 'import numpy'` / `faiss` / `qa_bot.indexing.build` for the start-up of a build;
  * full index build: `python -m qa_bot build --corpus corpus --index TMP --full`, wall time;
  * no-change rebuild (`build` again): wall time, ratio to `python -c pass`, and a check that
    the model (sentence_transformers / torch) is not imported;
  * cold start to first answer: `python -m qa_bot ask --index TMP "question"`, wall time from
    process start to the first line of output, and in process from `QABot.from_settings` to the
    first answer;
  * per-question latency of `QABot.ask` in one warm process: median and p90 over the questions
    in ../shared/data/article-questions.jsonl and article-offtopic.jsonl, several rounds
    (built-in questions if ../shared is absent).

Run from the repository root (nothing in index/ is touched; a temporary index is used):
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/core.py [--rounds 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    PYTHON,
    ROOT,
    first_output_seconds,
    median,
    ms,
    p90,
    print_machine,
    print_table,
    proc_status_mb,
    questions,
    run,
    run_child,
)

CORPUS = ROOT / "corpus"
QUESTION = "How many North Korean special forces reached Vladivostok in October 2024?"


def child_cold_start(index: str) -> dict:
    """In a fresh process: import, QABot.from_settings, first answer."""
    began = time.perf_counter()
    from qa_bot.answer.bot import QABot
    from qa_bot.config import Settings

    settings = Settings.from_env(index_dir=Path(index))
    imported = time.perf_counter()
    bot = QABot.from_settings(settings)
    loaded = time.perf_counter()
    bot.ask(QUESTION)
    answered = time.perf_counter()
    from qa_bot.encoder.embedding import model_fingerprint

    fingerprint_began = time.perf_counter()
    model_fingerprint(settings.model_path)  # weights now in the page cache
    return {
        "import": imported - began,
        "from_settings": loaded - imported,
        "first_ask": answered - loaded,
        "to_first_answer": answered - imported,
        "fingerprint": time.perf_counter() - fingerprint_began,
        "rss_mb": proc_status_mb("VmRSS"),
        "peak_mb": proc_status_mb("VmHWM"),
    }


def child_latency(index: str, rounds: int) -> dict:
    """In one warm process: latency of ask, of the query embedding and of retrieval."""
    from qa_bot.answer.bot import QABot
    from qa_bot.config import Settings

    bot = QABot.from_settings(Settings.from_env(index_dir=Path(index)))
    on, off, origin = questions()
    bot.ask(on[0])  # warm-up
    times: dict[str, list[float]] = {"on-topic": [], "off-topic": [], "encode": [], "retrieve": []}
    retriever = bot.retriever
    for _ in range(rounds):
        for kind, batch in (("on-topic", on), ("off-topic", off)):
            for question in batch:
                began = time.perf_counter()
                bot.ask(question)
                times[kind].append(time.perf_counter() - began)
                began = time.perf_counter()
                bot.embedder.encode([question])
                times["encode"].append(time.perf_counter() - began)
                began = time.perf_counter()
                retriever.retrieve(question)
                times["retrieve"].append(time.perf_counter() - began)
    times["all"] = times["on-topic"] + times["off-topic"]
    return {
        "times": times,
        "origin": origin,
        "questions": len(on) + len(off),
        "passages": len(retriever.stored.passages),
        "peak_mb": proc_status_mb("VmHWM"),
    }


def child_no_change(corpus: str, index: str) -> dict:
    """Run the no-change build in process; report whether the model stack was imported."""
    began = time.perf_counter()
    from qa_bot.cli import main as cli_main

    code = cli_main(["build", "--corpus", corpus, "--index", index])
    seconds = time.perf_counter() - began
    from qa_bot.config import Settings
    from qa_bot.encoder.embedding import model_fingerprint

    fingerprint_began = time.perf_counter()
    model_fingerprint(Settings.from_env().model_path)
    return {
        "code": code,
        "seconds": seconds,
        "fingerprint": time.perf_counter() - fingerprint_began,
        "sentence_transformers": "sentence_transformers" in sys.modules,
        "torch": "torch" in sys.modules,
        "faiss": "faiss" in sys.modules,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds over the questions")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each cold measurement")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        function = {
            "cold": child_cold_start,
            "latency": child_latency,
            "nochange": child_no_change,
        }[kind]
        values = [int(v) if v.isdigit() else v for v in rest]
        print(json.dumps(function(*values)))
        return

    print_machine()
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        index = str(Path(tmp) / "index")
        build = [PYTHON, "-m", "qa_bot", "build", "--corpus", str(CORPUS), "--index", index]
        bare = [run([PYTHON, "-c", "pass"])["seconds"] for _ in range(max(5, args.repeats))]
        imports = {
            module: [
                run([PYTHON, "-c", f"import {module}"])["seconds"]
                for _ in range(max(5, args.repeats))
            ]
            for module in ("numpy", "faiss", "qa_bot.indexing.build")
        }
        full = [run(build + ["--full"]) for _ in range(args.repeats)]
        print("full build:", full[-1]["stderr"].strip().splitlines()[-1], file=sys.stderr)
        unchanged = [run(build) for _ in range(max(5, args.repeats))]
        print("no-change build:", unchanged[-1]["stderr"].strip().splitlines()[-1], file=sys.stderr)
        no_change = run_child(Path(__file__), "nochange", str(CORPUS), index)
        ask = [
            first_output_seconds([PYTHON, "-m", "qa_bot", "ask", "--index", index, QUESTION])
            for _ in range(args.repeats)
        ]
        cold = [run_child(Path(__file__), "cold", index) for _ in range(args.repeats)]
        latency = run_child(Path(__file__), "latency", index, str(args.rounds))

    bare_s = median(bare)
    unchanged_s = median([r["seconds"] for r in unchanged])
    print(
        f"Median of {args.repeats} fresh runs unless noted; "
        f"{latency['passages']} passages in the index.\n"
    )
    print_table(
        ["figure", "median", "min", "max", "ratio to `python -c pass`"],
        [
            ["`python -c pass`", ms(bare_s), ms(min(bare)), ms(max(bare)), "1"],
            *[
                [
                    f"`python -c 'import {module}'`",
                    ms(median(values)),
                    ms(min(values)),
                    ms(max(values)),
                    f"{median(values) / bare_s:.0f}x",
                ]
                for module, values in imports.items()
            ],
            [
                "full build (`build --full`), wall",
                *(f"{f(r['seconds'] for r in full):.2f} s" for f in (median, min, max)),
                f"{median([r['seconds'] for r in full]) / bare_s:.0f}x",
            ],
            [
                "no-change rebuild (`build`), wall",
                ms(unchanged_s),
                ms(min(r["seconds"] for r in unchanged)),
                ms(max(r["seconds"] for r in unchanged)),
                f"{unchanged_s / bare_s:.0f}x",
            ],
            [
                "`ask` subprocess: start to first output",
                *(f"{f(a[0] for a in ask):.2f} s" for f in (median, min, max)),
                f"{median([a[0] for a in ask]) / bare_s:.0f}x",
            ],
            [
                "`ask` subprocess: start to exit",
                *(f"{f(a[1] for a in ask):.2f} s" for f in (median, min, max)),
                "",
            ],
        ],
    )
    print(
        f"No-change rebuild imported sentence_transformers: "
        f"{no_change['sentence_transformers']}, torch: {no_change['torch']}, "
        f"faiss: {no_change['faiss']}; hashing the model weights (warm cache) takes "
        f"{ms(no_change['fingerprint'])} of it.\n"
    )
    print("In process (fresh interpreter each run):\n")
    rows = []
    for key, label in (
        ("import", "import qa_bot.answer.bot + Settings"),
        ("from_settings", "QABot.from_settings (model + index)"),
        ("first_ask", "first ask"),
        ("to_first_answer", "from_settings to first answer"),
        ("fingerprint", "model_fingerprint alone (warm cache)"),
    ):
        values = [c[key] for c in cold]
        rows.append([label, ms(median(values)), ms(min(values)), ms(max(values))])
    rows.append(
        [
            "process peak RSS after first answer",
            f"{median([c['peak_mb'] for c in cold]):.0f} MB",
            "",
            "",
        ]
    )
    print_table(["step", "median", "min", "max"], rows)
    times = latency["times"]
    print(
        f"Warm per-question latency, {args.rounds} rounds over {latency['questions']} "
        f"questions ({latency['origin']}):\n"
    )
    print_table(
        ["what", "n", "median", "p90", "max"],
        [
            [
                kind,
                len(times[kind]),
                ms(median(times[kind])),
                ms(p90(times[kind])),
                ms(max(times[kind])),
            ]
            for kind in ("all", "on-topic", "off-topic", "encode", "retrieve")
        ],
    )


if __name__ == "__main__":
    main()
