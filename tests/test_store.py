import json

import numpy as np
import pytest

from qa_bot import builds, store
from qa_bot.vectors import VectorIndex
from qa_bot.bot import QABot
from qa_bot.errors import IndexCorrupt, IndexMissing


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
    # Search within one source's range stays exact, whatever the index type.
    ids, _ = index.search_range(queries[0].astype(np.float32), 1000, 1040, 5)
    expected = np.argsort(-(vectors[1000:1040] @ queries[0]))[:5] + 1000
    assert list(ids) == list(expected)


def test_no_index_says_to_build(tmp_path) -> None:
    with pytest.raises(IndexMissing, match=r"No index in .*Run 'python -m qa_bot build' first"):
        store.load_index(tmp_path)


@pytest.mark.parametrize("name, damage", [
    ("passages.faiss", lambda p: p.write_bytes(p.read_bytes()[:100])),
    ("passages.json", lambda p: p.write_text("[{", encoding="utf-8")),
    ("manifest.json", lambda p: p.write_text("{}", encoding="utf-8")),
    ("sentences.npy", lambda p: p.write_bytes(b"garbage")),
    ("sentences.npy", lambda p: p.unlink()),
])
def test_a_damaged_index_file_is_named_with_the_fix(copied_index, name, damage) -> None:
    build_id = builds.current_build(copied_index)
    path = copied_index / "builds" / build_id / name
    damage(path)
    with pytest.raises(IndexCorrupt) as error:
        store.load_index(copied_index)
    message = str(error.value)
    assert str(path) in message
    assert message.endswith("Run 'python -m qa_bot build --full' to rebuild it.")


def test_a_damaged_file_keeps_its_real_cause_for_the_logs(copied_index) -> None:
    path = copied_index / "builds" / builds.current_build(copied_index) / "manifest.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(IndexCorrupt, match=r"manifest.json is damaged \(KeyError\)") as error:
        store.load_index(copied_index)
    assert isinstance(error.value.__cause__, KeyError)


def test_vectors_that_do_not_match_the_passages_are_refused(copied_index) -> None:
    build_id = builds.current_build(copied_index)
    path = copied_index / "builds" / build_id / "passages.json"
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8"))[:-1]),
                    encoding="utf-8")
    # As a build from before sizes were recorded: only the contents can tell.
    manifest = path.parent / "manifest.json"
    record = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**record, "index_files": {}}), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="passages.faiss does not match its passages"):
        store.load_index(copied_index)


def test_a_build_interrupted_while_writing_leaves_the_previous_index(copied_index, embedder) -> None:
    # What a crash in save_index leaves behind: a half-written folder that CURRENT never named.
    partial = copied_index / "builds" / "20990101T000000Z-000000001.partial"
    partial.mkdir()
    (partial / "passages.faiss").write_bytes(b"half")
    answer = QABot(copied_index, embedder).ask("Where did the special forces train?")
    assert "Vladivostok" in answer.answer
    builds.prune_builds(copied_index)
    assert not partial.exists()


def _unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
