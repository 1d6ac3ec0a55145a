"""Scale figures on synthetic corpora and synthetic vectors, printed as Markdown tables.

Parts (choose with --parts; all by default):
  throughput   full build of N articles (--throughput-articles, default 200) with build_index
               in a fresh process, passages/second, against bare Embedder.encode on the same
               passage + sentence texts; chunking time on its own.
  incremental  (runs before throughput, whose build it reuses when the sizes match)
               full build of --articles (default 1,000) articles, then a no-change rebuild and a
               rebuild after changing one article (each build_index in a fresh process, as
               `python -m qa_bot build` runs it: wall time, the child's peak RSS and its
               BuildSummary); load time of the stored index.
  query        QABot.ask latency (median, p90), unscoped and scoped to one source, on the
               --articles index, and the process's peak RSS. Needs the incremental part's index.
  vectors      --vectors (default 1,000,000) random clustered unit vectors, dim 384:
               qa_bot.indexing.vectors.VectorIndex.build time (IVF beyond EXACT_SEARCH_LIMIT,
               100,000),
               search latency (top 50),
               recall@10 against exact faiss.IndexFlatIP on --queries (200) queries, peak RSS
               of a process that loads and holds the index, exact search latency on the same
               vectors.

Synthetic articles recombine and perturb paragraphs of corpus/*.txt and
../shared/data/squad2-normans.txt (if present); every article gets its own made-up words.
Heavy steps run in fresh processes so each peak RSS is clean.

Run from the repository root:
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/scale.py    # everything: 1 h+ on 2 cores
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/scale.py --throughput-articles 20 \
        --articles 50 --vectors 250000 --queries 50                      # quick, ~3 min
Pass --workdir DIR to keep the generated corpora and indexes (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import (
    DATA,
    PYTHON,
    ROOT,
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

SCRIPT = Path(__file__)
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ru",
    "te",
    "vo",
    "zi",
    "pa",
    "ne",
    "so",
    "du",
    "fe",
    "gi",
    "ha",
    "ju",
    "bel",
]
DIMENSION = 384


# ---------------------------------------------------------------- synthetic articles


def paragraph_pool() -> list[str]:
    pool = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        pool += [line.strip() for line in path.read_text().splitlines()[1:] if len(line) > 80]
    normans = DATA / "squad2-normans.txt"
    if normans.is_file():
        pool += [p.strip() for p in re.split(r"\n\s*\n", normans.read_text()) if len(p) > 80]
    return pool


def made_up_word(number: int) -> str:
    digits = []
    for _ in range(3):
        number, digit = divmod(number, len(SYLLABLES))
        digits.append(SYLLABLES[digit])
    return "".join(digits).capitalize()


def synthetic_article(number: int, pool: list[str], rng: np.random.Generator) -> str:
    place, person = made_up_word(number), made_up_word(number * 7 + 3001)
    title = f"{place} and {person}: report {number} on {pool[number % len(pool)][:40].strip()}"
    paragraphs = []
    for choice in rng.choice(len(pool), size=int(rng.integers(4, 9)), replace=False):
        sentences = re.split(r"(?<=[.!?])\s+", pool[choice])
        if len(sentences) > 2 and rng.random() < 0.5:
            del sentences[int(rng.integers(len(sentences)))]
        sentences.insert(
            int(rng.integers(len(sentences) + 1)),
            f"Officials in {place} told {person} about it on day {int(rng.integers(1, 366))}.",
        )
        paragraphs.append(" ".join(sentences))
    return title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def make_corpus(folder: Path, articles: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pool, rng = paragraph_pool(), np.random.default_rng(articles)
    for number in range(articles):
        (folder / f"a{number:04d}.txt").write_text(synthetic_article(number, pool, rng))
    return folder


def build(corpus: Path, index: Path, full: bool = False) -> dict:
    """build_index in a fresh process: its BuildSummary's fields and `line`, plus the
    process's wall `child_seconds` and `child_peak_rss_mb`."""
    return run_child(SCRIPT, "build", str(corpus), str(index), "full" if full else "update")


# ---------------------------------------------------------------- children (fresh processes)


def child_build(corpus: str, index: str, mode: str) -> dict:
    """build_index as `python -m qa_bot build [--full]` calls it; its BuildSummary."""
    from dataclasses import asdict

    from qa_bot.config import Settings
    from qa_bot.indexing.build import build_index

    settings = Settings.from_env()
    summary = build_index(Path(corpus), Path(index), settings.model_path, full=mode == "full")
    return {**asdict(summary), "line": summary.line()}


def child_encode(corpus: str) -> dict:
    """Reading + chunking, model load, and bare Embedder.encode on the texts a build embeds."""
    from qa_bot.config import Settings
    from qa_bot.encoder.embedding import Embedder
    from qa_bot.ingest.chunking import DEFAULT_CHUNKING, chunk_document
    from qa_bot.ingest.corpus import read_document, scan_corpus

    began = time.perf_counter()
    documents = [read_document(f) for f in scan_corpus(Path(corpus))]
    chunks = [chunk_document(d.source, d.text, DEFAULT_CHUNKING) for d in documents]
    chunked = time.perf_counter()
    texts = []  # in the order indexing._embed sends them
    for passages in chunks:
        texts += [p.text for p in passages] + [s.text for p in passages for s in p.sentences]
    settings = Settings.from_env()
    load_began = time.perf_counter()
    embedder = Embedder.load(settings.model_path)
    loaded = time.perf_counter()
    embedder.encode(texts)
    encoded = time.perf_counter()
    return {
        "chunk_s": chunked - began,
        "load_s": loaded - load_began,
        "encode_s": encoded - loaded,
        "passages": sum(len(c) for c in chunks),
        "sentences": len(texts) - sum(len(c) for c in chunks),
        "texts": len(texts),
        "chars": sum(len(t) for t in texts),
        "passage_chars": sum(len(p.text) for c in chunks for p in c),
    }


def child_load(index: str) -> dict:
    from qa_bot.indexing import store

    began = time.perf_counter()
    stored = store.load_index(Path(index))
    return {
        "load_s": time.perf_counter() - began,
        "passages": len(stored.passages),
        "rss_mb": proc_status_mb("VmRSS"),
    }


def child_query(index: str, source: str, rounds: int) -> dict:
    from qa_bot.answer.bot import QABot
    from qa_bot.config import Settings

    before = proc_status_mb("VmRSS")
    began = time.perf_counter()
    bot = QABot.from_settings(Settings.from_env(index_dir=Path(index)))
    loaded = time.perf_counter() - began
    on, off, origin = questions()
    bot.ask(on[0])
    bot.ask(on[0], source=source)
    times: dict[str, list[float]] = {"unscoped": [], "scoped": []}
    for _ in range(rounds):
        for question in on + off:
            for kind, scope in (("unscoped", None), ("scoped", source)):
                began = time.perf_counter()
                bot.ask(question, source=scope)
                times[kind].append(time.perf_counter() - began)
    return {
        "times": times,
        "from_settings_s": loaded,
        "origin": origin,
        "passages": len(bot.retriever.stored.passages),
        "rss_before_mb": before,
        "rss_mb": proc_status_mb("VmRSS"),
        "peak_mb": proc_status_mb("VmHWM"),
    }


def random_unit_vectors(
    count: int, seed: int, centres: np.ndarray, spread: float = 1.0
) -> np.ndarray:
    """Points scattered around random unit cluster centres (noise of norm about `spread`),
    normalised, float32, made in chunks."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, DIMENSION), dtype=np.float32)
    for start in range(0, count, 100_000):
        end = min(count, start + 100_000)
        noise = rng.standard_normal((end - start, DIMENSION), dtype=np.float32)
        noise *= spread / np.sqrt(DIMENSION)
        out[start:end] = centres[rng.integers(len(centres), size=end - start)] + noise
        out[start:end] /= np.linalg.norm(out[start:end], axis=1, keepdims=True)
    return out


def centres() -> np.ndarray:
    c = np.random.default_rng(0).standard_normal((1000, DIMENSION), dtype=np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def child_vectors_build(count: int, queries: int, folder: str, spread: str = "1.0") -> dict:
    """Build with VectorIndex.build, write it; exact ground truth and exact search latency."""
    import faiss

    from qa_bot.indexing.vectors import EXACT_SEARCH_LIMIT, VectorIndex

    c = centres()
    vectors = random_unit_vectors(count, 1, c, float(spread))
    query = random_unit_vectors(queries, 2, c, float(spread))
    generated_peak = proc_status_mb("VmHWM")
    began = time.perf_counter()
    index = VectorIndex.build(vectors)
    build_s = time.perf_counter() - began
    build_peak = proc_status_mb("VmHWM")
    index.write(Path(folder) / "vectors.faiss")
    kind = index.kind
    del index
    exact = faiss.IndexFlatIP(DIMENSION)
    began = time.perf_counter()
    exact.add(vectors)
    exact_build_s = time.perf_counter() - began
    _, truth = exact.search(query, 10)  # batched: ground truth only
    np.save(Path(folder) / "queries.npy", query)
    np.save(Path(folder) / "truth.npy", truth)
    latencies = []
    for row in query[:30]:
        began = time.perf_counter()
        exact.search(row.reshape(1, -1), 50)
        latencies.append(time.perf_counter() - began)
    limit = faiss.IndexFlatIP(DIMENSION)
    limit.add(vectors[:EXACT_SEARCH_LIMIT])
    limit_latencies = []
    for row in query[:30]:
        began = time.perf_counter()
        limit.search(row.reshape(1, -1), 50)
        limit_latencies.append(time.perf_counter() - began)
    return {
        "kind": kind,
        "build_s": build_s,
        "generated_peak_mb": generated_peak,
        "build_peak_mb": build_peak,
        "exact_build_s": exact_build_s,
        "exact_ms": [x * 1000 for x in latencies],
        "exact_limit_ms": [x * 1000 for x in limit_latencies],
        "vectors_mb": vectors.nbytes / 2**20,
    }


def child_vectors_search(folder: str) -> dict:
    """Load the index as store.load_index does, hold it, search it."""
    from qa_bot.indexing.vectors import VectorIndex

    before = proc_status_mb("VmRSS")
    began = time.perf_counter()
    index = VectorIndex.read(Path(folder) / "vectors.faiss")
    load_s = time.perf_counter() - began
    held = proc_status_mb("VmRSS")
    query = np.load(Path(folder) / "queries.npy")
    truth = np.load(Path(folder) / "truth.npy")
    index.search(query[0], 50)
    latencies, recalls = [], []
    for row, expected in zip(query, truth):
        began = time.perf_counter()
        ids, _ = index.search(row, 50)
        latencies.append(time.perf_counter() - began)
        recalls.append(len(set(ids[:10].tolist()) & set(expected.tolist())) / 10)
    return {
        "kind": index.kind,
        "lists": int(getattr(index.index, "nlist", 0)),
        "nprobe": int(getattr(index.index, "nprobe", 0)),
        "load_s": load_s,
        "rss_before_mb": before,
        "rss_held_mb": held,
        "peak_mb": proc_status_mb("VmHWM"),
        "search_ms": [x * 1000 for x in latencies],
        "recall10": float(np.mean(recalls)),
    }


CHILDREN = {
    "build": child_build,
    "encode": child_encode,
    "load": child_load,
    "query": child_query,
    "vbuild": child_vectors_build,
    "vsearch": child_vectors_search,
}


# ---------------------------------------------------------------- parts


def part_throughput(work: Path, articles: int, built: tuple[Path, dict] | None = None) -> None:
    """`built`: (corpus, result) of a full CLI build already made by part_incremental."""
    if built:
        corpus, cli = built
    else:
        corpus = make_corpus(work / f"corpus{articles}", articles)
        cli = build(corpus, work / f"index{articles}-cli", full=True)
    bare = run_child(SCRIPT, "encode", str(corpus))
    passages, texts, encode_s = bare["passages"], bare["texts"], bare["encode_s"]
    inside, wall = cli["seconds"], cli["child_seconds"]  # BuildSummary.seconds; the process
    print(
        f"## Build throughput, {articles} synthetic articles: {passages} passages + "
        f"{bare['sentences']} sentences = {texts} texts to embed\n"
    )
    print(f"build_index: {cli['line']}\n")
    print_table(
        ["step", "seconds", "passages/s", "texts/s", "ratio to bare encode"],
        [
            [
                "full build_index in a fresh process, wall",
                f"{wall:.1f}",
                f"{passages / wall:.1f}",
                f"{texts / wall:.0f}",
                f"{wall / encode_s:.2f}x",
            ],
            [
                "BuildSummary.seconds minus Embedder.load (estimate)",
                f"{inside - bare['load_s']:.1f}",
                f"{passages / (inside - bare['load_s']):.1f}",
                f"{texts / (inside - bare['load_s']):.0f}",
                f"{(inside - bare['load_s']) / encode_s:.2f}x",
            ],
            [
                "Embedder.encode on the same texts (bare model, fresh process)",
                f"{encode_s:.1f}",
                f"{passages / encode_s:.1f}",
                f"{texts / encode_s:.0f}",
                "1.00x",
            ],
            [
                "read + chunk (pysbd) alone",
                f"{bare['chunk_s']:.1f}",
                "",
                "",
                f"{bare['chunk_s'] / encode_s:.2f}x",
            ],
            ["Embedder.load alone", f"{bare['load_s']:.1f}", "", "", ""],
        ],
    )
    print(
        f"Peak RSS of the full build's process: {cli['child_peak_rss_mb']:.0f} MB. Passages are "
        f"{bare['passage_chars'] / bare['chars']:.0%} of the embedded characters; the rest is "
        f"their sentences, embedded again one by one.\n"
    )


def part_incremental(work: Path, articles: int) -> tuple[Path, tuple[Path, dict]]:
    """Returns the index and (a copy of the corpus as first built, that build's result)."""
    corpus = make_corpus(work / f"corpus{articles}", articles)
    index = work / f"index{articles}"
    full = build(corpus, index, full=True)
    as_built = work / f"corpus{articles}-as-built"
    shutil.copytree(corpus, as_built, dirs_exist_ok=True)
    print(f"## Incremental rebuild, {articles} synthetic articles\n")
    print(f"full build: {full['line']}\n")
    unchanged = [build(corpus, index) for _ in range(3)]
    changed = []
    target = corpus / f"a{articles // 2:04d}.txt"
    for attempt in range(2):
        with open(target, "a") as file:
            file.write(f"\nA late addition, number {attempt}, changes this article.\n")
        changed.append(build(corpus, index))
    print(f"one changed: {changed[-1]['line']}\n")
    bare = median([run([PYTHON, "-c", "pass"])["seconds"] for _ in range(5)])
    load = run_child(SCRIPT, "load", str(index))
    seconds = [r["child_seconds"] for r in changed]
    no_change = median([r["child_seconds"] for r in unchanged])
    print_table(
        ["step", "wall", "peak RSS", "ratio"],
        [
            [
                "full build (`full=True`)",
                f"{full['child_seconds']:.1f} s",
                f"{full['child_peak_rss_mb']:.0f} MB",
                "1 (reference)",
            ],
            [
                "no-change rebuild (median of 3)",
                ms(no_change),
                f"{unchanged[0]['child_peak_rss_mb']:.0f} MB",
                f"{no_change / bare:.0f}x `python -c pass` ({ms(bare)})",
            ],
            [
                "rebuild after changing one article (median of 2)",
                f"{median(seconds):.1f} s",
                f"{changed[-1]['child_peak_rss_mb']:.0f} MB",
                f"{median(seconds) / full['child_seconds']:.3f} of the full build",
            ],
            [
                "store.load_index of this index (fresh process)",
                ms(load["load_s"]),
                f"{load['rss_mb']:.0f} MB (RSS after)",
                "",
            ],
        ],
    )
    return index, (as_built, full)


def part_query(index: Path, rounds: int) -> None:
    source = "a0001.txt"
    result = run_child(SCRIPT, "query", str(index), source, str(rounds))
    times = result["times"]
    print(
        f"## Query latency, {result['passages']} passages ({rounds} rounds over the "
        f"questions of {result['origin']})\n"
    )
    print_table(
        ["ask", "n", "median", "p90", "max"],
        [
            [
                kind,
                len(times[kind]),
                ms(median(times[kind])),
                ms(p90(times[kind])),
                ms(max(times[kind])),
            ]
            for kind in ("unscoped", "scoped")
        ],
    )
    print(
        f"QABot.from_settings: {result['from_settings_s']:.1f} s; RSS before "
        f"{result['rss_before_mb']:.0f} MB, after the questions {result['rss_mb']:.0f} MB, "
        f"process peak {result['peak_mb']:.0f} MB\n"
    )


def part_vectors(work: Path, count: int, queries: int, spread: float) -> None:
    from qa_bot.indexing.vectors import EXACT_SEARCH_LIMIT

    folder = work / "vectors"
    folder.mkdir(parents=True, exist_ok=True)
    built = run_child(SCRIPT, "vbuild", str(count), str(queries), str(folder), str(spread))
    searched = run_child(SCRIPT, "vsearch", str(folder))
    for path in folder.iterdir():
        path.unlink()
    print(
        f"## {count:,} synthetic vectors (dim {DIMENSION}, "
        f"{built['vectors_mb']:.0f} MB as float32), {queries} queries, cluster spread "
        f"{spread}\n"
    )
    print(
        f"VectorIndex.build made a {built['kind']} index ({searched['lists']} lists, nprobe "
        f"{searched['nprobe']}).\n"
    )
    print_table(
        ["figure", "value"],
        [
            ["VectorIndex.build", f"{built['build_s']:.1f} s"],
            ["IndexFlatIP.add (exact, for comparison)", f"{built['exact_build_s']:.1f} s"],
            [
                "peak RSS while building (vectors in memory)",
                f"{built['build_peak_mb']:.0f} MB "
                f"({built['generated_peak_mb']:.0f} MB before the build)",
            ],
            ["VectorIndex.read, fresh process", f"{searched['load_s']:.1f} s"],
            [
                "RSS holding the loaded index",
                f"{searched['rss_held_mb']:.0f} MB "
                f"({searched['rss_before_mb']:.0f} MB before loading)",
            ],
            ["peak RSS of the loading + searching process", f"{searched['peak_mb']:.0f} MB"],
            [
                f"VectorIndex.search top 50, median / p90 (n={queries})",
                f"{median(searched['search_ms']):.2f} / {p90(searched['search_ms']):.2f} ms",
            ],
            ["recall@10 against exact search", f"{searched['recall10']:.3f}"],
            [
                f"exact IndexFlatIP search top 50, median / p90 (n={len(built['exact_ms'])})",
                f"{median(built['exact_ms']):.1f} / {p90(built['exact_ms']):.1f} ms",
            ],
            [
                f"exact search over the first {min(count, EXACT_SEARCH_LIMIT):,} "
                "(EXACT_SEARCH_LIMIT), median / p90",
                f"{median(built['exact_limit_ms']):.1f} / {p90(built['exact_limit_ms']):.1f} ms",
            ],
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="throughput,incremental,query,vectors")
    parser.add_argument("--throughput-articles", type=int, default=200)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--spread",
        type=float,
        default=1.0,
        help="noise around each of the 1,000 cluster centres (norm; centre "
        "norm is 1): 1 gives in-cluster cosine about 0.5, 2 about 0.2",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the questions")
    parser.add_argument("--workdir", type=Path, help="keep corpora and indexes here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        values = [int(v) if v.isdigit() else v for v in rest]
        print(json.dumps(CHILDREN[kind](*values)))
        return

    parts = args.parts.split(",")
    if "throughput" in parts and "incremental" in parts:  # reuse the incremental full build
        parts.remove("throughput")
        parts.insert(parts.index("incremental") + 1, "throughput")
    built = None
    print_machine()
    with tempfile.TemporaryDirectory(prefix="qa-scale-") as tmp:
        work = args.workdir or Path(tmp)
        index = work / f"index{args.articles}"
        for part in parts:
            began = time.perf_counter()
            if part == "throughput":
                same = built if args.throughput_articles == args.articles else None
                part_throughput(work, args.throughput_articles, same)
            elif part == "incremental":
                index, built = part_incremental(work, args.articles)
            elif part == "query":
                part_query(index, args.rounds)
            elif part == "vectors":
                part_vectors(work, args.vectors, args.queries, args.spread)
            else:
                sys.exit(f"unknown part {part!r}")
            print(
                f"({part}: {time.perf_counter() - began:.0f} s; load average now "
                f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})\n",
                flush=True,
            )


if __name__ == "__main__":
    main()
