"""Nearest-neighbour search over passage vectors: the only module that imports faiss."""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

# Exact search up to this many passages, IVF beyond. Exact search costs about 1 ms per 1,000
# passages a query here; IVF at 1 million passages about 1-4 ms (BENCHMARKS.md B4).
EXACT_SEARCH_LIMIT = 100_000
# IVF lists per sqrt(n): faiss's guidelines ("Guidelines to choose an index") put the number
# of lists between 4·sqrt(n) and 16·sqrt(n); the low end keeps training time down.
LISTS_PER_SQRT_N = 4
# Training vectors per list: faiss wants 30 to 256 per centroid (it warns below 39).
TRAINING_PER_LIST = 64
# Lists probed per query: recall@10 1.000 against exact search at 0.68 ms a query on one
# million vectors with 4,000 lists (BENCHMARKS.md B4).
IVF_PROBES = 32


class VectorIndex:
    """Inner-product search over normalised vectors, exact or approximate by size."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = index
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = IVF_PROBES
            index.make_direct_map()

    @classmethod
    def build(cls, vectors: np.ndarray, exact_limit: int = EXACT_SEARCH_LIMIT) -> VectorIndex:
        """Exact search up to `exact_limit` vectors, IVF beyond."""
        count, dimension = vectors.shape
        index: faiss.Index
        if count <= exact_limit:
            index = faiss.IndexFlatIP(dimension)
        else:
            lists = int(LISTS_PER_SQRT_N * math.sqrt(count))
            index = faiss.IndexIVFFlat(
                faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT
            )
            sample_size = min(count, TRAINING_PER_LIST * lists)
            sample = vectors[np.random.default_rng(0).choice(count, sample_size, replace=False)]
            index.train(sample)
        index.add(vectors)
        return cls(index)

    @classmethod
    def read(cls, path: Path) -> VectorIndex:
        return cls(faiss.read_index(str(path)))

    def write(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self.index, faiss.IndexIVF) else "flat"

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    def vectors(self, start: int, end: int) -> np.ndarray:
        """The stored vectors of ids start..end-1."""
        if isinstance(self.index, faiss.IndexIVF):  # reconstruct_n would scan every list
            return self.index.reconstruct_batch(np.arange(start, end, dtype=np.int64))
        return self.index.reconstruct_n(start, end - start)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the k best passages, best first."""
        k = min(k, self.count)
        scores, ids = self.index.search(query.reshape(1, -1), k)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]
