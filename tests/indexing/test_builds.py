"""Build folders: a half-written build never becomes current, and pruning removes it."""

from qa_bot.answer.bot import QABot
from qa_bot.indexing import builds


def test_a_build_interrupted_while_writing_leaves_the_previous_index(
    copied_index, embedder
) -> None:
    # What a crash in save_index leaves behind: a half-written folder that CURRENT never named.
    partial = copied_index / "builds" / "20990101T000000Z-000000001.partial"
    partial.mkdir()
    (partial / "passages.faiss").write_bytes(b"half")
    answer = QABot(copied_index, embedder).ask("Where did the special forces train?")
    assert "Vladivostok" in answer.answer
    builds.prune_builds(copied_index)
    assert not partial.exists()
