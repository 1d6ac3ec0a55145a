"""What checking an index against its manifest costs, at the size of the 1-million-vector index.

`status` and `build --check` (and every `build`) compare each index file's size and SHA-256
with the manifest; a loading server compares sizes only. The IVF index of one million
384-dimension vectors (BENCHMARKS.md, B4) is one file of about 1,550 MB: vectors (4 bytes
each), ids (8 bytes per vector) and 4,000 centroids. Hashing speed does not depend on the bytes,
so this writes a random file of that size instead of training the index (66 s, 3.8 GB).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/verify.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import print_machine, print_table

from qa_bot.indexing import builds

VECTORS, DIMENSION, LISTS = 1_000_000, 384, 4_000
SIZE = VECTORS * (DIMENSION * 4 + 8) + LISTS * DIMENSION * 4


def main() -> None:
    print_machine()
    with tempfile.TemporaryDirectory(prefix="qa-verify-") as tmp:
        path = Path(tmp) / "passages.faiss"
        chunk = np.random.default_rng(0).bytes(64 << 20)
        with open(path, "wb") as file:
            for start in range(0, SIZE, len(chunk)):
                file.write(chunk[: min(len(chunk), SIZE - start)])
        began = time.perf_counter()
        for _ in range(1000):
            path.stat()
        stat_us = (time.perf_counter() - began) * 1000
        timings = []
        for _ in range(3):
            began = time.perf_counter()
            builds.file_checksum(path)
            timings.append(time.perf_counter() - began)
        seconds = sorted(timings)[1]
        rows = [
            ["size check (one stat), what a loading server adds", f"{stat_us:.1f} µs"],
            [
                "checksum of the 1 M-vector index file, median of 3 (page cache warm)",
                f"{seconds:.2f} s",
            ],
            ["checksum rate", f"{SIZE / seconds / 2**20:,.0f} MB/s"],
        ]
        print_table(["figure", f"value ({SIZE / 2**20:,.0f} MB file)"], rows)
        os.remove(path)


if __name__ == "__main__":
    main()
