"""Loading a build: missing, damaged and mismatched files are refused with the fix named."""

import json

import pytest

from qa_bot.errors import IndexCorrupt, IndexMissing
from qa_bot.indexing import builds, store


def test_no_index_says_to_build(tmp_path) -> None:
    with pytest.raises(IndexMissing, match=r"No index in .*Run 'python -m qa_bot build' first"):
        store.load_index(tmp_path)


@pytest.mark.parametrize(
    "name, damage",
    [
        ("passages.faiss", lambda p: p.write_bytes(p.read_bytes()[:100])),
        ("passages.json", lambda p: p.write_text("[{", encoding="utf-8")),
        ("manifest.json", lambda p: p.write_text("{}", encoding="utf-8")),
        ("sentences.npy", lambda p: p.write_bytes(b"garbage")),
        ("sentences.npy", lambda p: p.unlink()),
    ],
)
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
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8"))[:-1]), encoding="utf-8")
    # As a build from before sizes were recorded: only the contents can tell.
    manifest = path.parent / "manifest.json"
    record = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**record, "index_files": {}}), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="passages.faiss does not match its passages"):
        store.load_index(copied_index)
