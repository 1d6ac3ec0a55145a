"""The FAISS wrapper: exact search, and IVF beyond the exact limit with its recall."""

import numpy as np
import pytest

from qa_bot.indexing.vectors import VectorIndex


def test_exact_search_finds_the_nearest_vectors() -> None:
    vectors = _unit(np.random.default_rng(1).normal(size=(500, 32)))
    index = VectorIndex.build(vectors)
    assert index.kind == "flat"
    ids, scores = index.search(vectors[42], 3)
    assert ids[0] == 42 and scores[0] == pytest.approx(1.0, abs=1e-5)


def test_approximate_search_beyond_the_exact_limit_keeps_recall() -> None:
    rng = np.random.default_rng(0)
    centres = _unit(rng.normal(size=(200, 64)))
    vectors = _unit(centres[rng.integers(0, 200, 20_000)] + 0.06 * rng.normal(size=(20_000, 64)))
    index = VectorIndex.build(vectors.astype(np.float32), exact_limit=5_000)
    assert index.kind == "ivf"
    queries = _unit(vectors[rng.choice(20_000, 100)] + 0.02 * rng.normal(size=(100, 64)))
    recall = []
    for query in queries.astype(np.float32):
        exact = set(np.argsort(-(vectors @ query))[:10])
        found = set(index.search(query, 10)[0])
        recall.append(len(exact & found) / 10)
    assert np.mean(recall) >= 0.9


def _unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
