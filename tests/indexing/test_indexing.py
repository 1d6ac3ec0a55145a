import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qa_bot.answer.bot import QABot
from qa_bot.encoder.embedding import Embedder
from qa_bot.errors import BuildInProgress, CorpusError, IndexMismatch
from qa_bot.indexing import builds, store
from qa_bot.indexing.build import build_index, corpus_state
from qa_bot.ingest.chunking import ChunkingSettings
from qa_bot.ingest.corpus import DocumentInfo
from tests.support import ARTICLE, MODEL, ROOT, write
from tests.support.news_page import ARTICLE_PARAGRAPHS, FURNITURE, NEWS_PAGE

ARTICLE_TEXT = ARTICLE.read_text(encoding="utf-8")
PARAGRAPHS = ARTICLE_TEXT.splitlines()


class CountingEmbedder:
    """The real embedder, counting how many texts it was asked to encode."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.encoded = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.embedder, name)

    def encode(self, texts, on_progress=None):  # type: ignore[no-untyped-def]
        self.encoded += len(texts)
        return self.embedder.encode(texts, on_progress)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    write(folder, "kursk.txt", "\n".join(PARAGRAPHS[:3]))
    write(folder, "losses.txt", "\n".join(PARAGRAPHS[3:5]))
    write(folder, "world/strategy.md", "\n\n".join(PARAGRAPHS[5:8]))
    return folder


def test_rebuild_embeds_only_what_changed(corpus, tmp_path, embedder) -> None:
    index = tmp_path / "index"
    first = build_index(corpus, index, MODEL, embedder=embedder)
    assert (first.added, first.passages) == (3, first.embedded)

    write(corpus, "losses.txt", "\n".join(PARAGRAPHS[3:5]) + "\nA new closing line.")
    write(corpus, "more/added.txt", PARAGRAPHS[8])
    (corpus / "kursk.txt").unlink()
    terms_before = set(store.load_index(index).terms)
    counting = CountingEmbedder(embedder)
    second = build_index(corpus, index, MODEL, embedder=counting)  # type: ignore[arg-type]
    assert (second.unchanged, second.changed, second.added, second.removed) == (1, 1, 1, 1)
    stored = store.load_index(index)
    reused = stored.source_ranges["world/strategy.md"]
    fresh = [p for p in stored.passages if p.source in ("losses.txt", "more/added.txt")]
    assert second.embedded == len(fresh) and reused[1] > reused[0]
    new_terms = [t for t in stored.terms if t not in terms_before]  # the others are reused
    assert counting.encoded == len(fresh) + sum(len(p.sentences) for p in fresh) + len(new_terms)
    assert second.line().startswith("1 unchanged, 1 changed, 1 added, 1 removed: ")
    assert sorted(stored.source_ranges) == ["losses.txt", "more/added.txt", "world/strategy.md"]


def test_a_rebuild_with_nothing_changed_never_loads_the_model(
    corpus, tmp_path, embedder, monkeypatch
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, MODEL, embedder=embedder)
    before = builds.current_build(index)
    monkeypatch.setattr(Embedder, "load", lambda *a: pytest.fail("the model was loaded"))
    monkeypatch.setattr(
        "qa_bot.encoder.embedding.hashlib.file_digest",
        lambda *a: pytest.fail("the weights were hashed again"),
    )
    summary = build_index(corpus, index, MODEL)
    assert not summary.rebuilt and summary.unchanged == 3
    assert "index is up to date" in summary.line()
    assert builds.current_build(index) == before
    assert corpus_state(corpus, index, MODEL, ChunkingSettings()).is_current
    write(corpus, "new.txt", "Fresh news.")
    assert not corpus_state(corpus, index, MODEL, ChunkingSettings()).is_current


def test_an_index_from_another_model_or_settings_is_refused(article_index, embedder) -> None:
    other_model = dataclasses.replace(embedder, fingerprint="sha256:" + "0" * 64)
    with pytest.raises(
        IndexMismatch,
        match=r"built with model .* but the bot uses .*"
        r"Run 'python -m qa_bot build --full'",
    ):
        QABot(article_index, other_model)
    other_encoder = dataclasses.replace(embedder, encoder="onnx-fp32 sha256:" + "0" * 64)
    with pytest.raises(
        IndexMismatch,
        match=r"built with encoder onnx-int8 sha256:.* but the bot "
        r"uses onnx-fp32 sha256:0+\. Run 'python -m qa_bot",
    ):
        QABot(article_index, other_encoder)
    with pytest.raises(IndexMismatch, match="built with chunking .*max_chars.*but the bot uses"):
        QABot(article_index, embedder, ChunkingSettings(max_chars=500))


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"model_fingerprint": "sha256:old", "model_weights": "1:1"}, "built with model"),
        (
            {"encoder": ""},
            "built with encoder sentence-transformers (torch) but the bot uses onnx-int8 sha256:",
        ),
    ],
)
def test_another_model_or_encoder_means_a_full_rebuild_not_reuse(
    corpus, tmp_path, embedder, change, reason
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, MODEL, embedder=embedder)
    build_id, manifest = store.read_manifest(index)
    path = index / "builds" / build_id / "manifest.json"
    path.write_text(dataclasses.replace(manifest, **change).to_json(), encoding="utf-8")
    summary = build_index(corpus, index, MODEL, embedder=embedder)
    assert summary.added == 3 and summary.embedded == summary.passages
    assert reason in summary.reason


def test_unreadable_files_are_skipped_and_counted(corpus, tmp_path, embedder) -> None:
    (corpus / "latin1.txt").write_bytes("Caf\xe9 news".encode("latin-1"))
    (corpus / "empty.md").write_text("\n\n", encoding="utf-8")
    (corpus / "image.html").write_bytes(b"\x89PNG\x00\x00")
    summary = build_index(corpus, tmp_path / "index", MODEL, embedder=embedder)
    assert sorted(s.source for s in summary.skipped) == ["empty.md", "image.html", "latin1.txt"]
    # Three files are indexed; the three skipped count only as skipped.
    assert summary.added == 3 and "3 added, 0 removed, 3 skipped:" in summary.line()
    assert sorted(store.load_index(tmp_path / "index").source_ranges) == [
        "kursk.txt",
        "losses.txt",
        "world/strategy.md",
    ]
    again = build_index(corpus, tmp_path / "index", MODEL)  # unchanged, skipped still reported
    assert not again.rebuilt and len(again.skipped) == 3 and again.unchanged == 3


def test_a_corpus_with_nothing_readable_is_an_error(tmp_path, embedder) -> None:
    write(tmp_path / "corpus", "empty.txt", "   ")
    with pytest.raises(CorpusError, match=r"No readable article in .*empty.txt has no text"):
        build_index(tmp_path / "corpus", tmp_path / "index", MODEL, embedder=embedder)


def test_html_articles_are_indexed_as_their_readable_text(tmp_path, embedder) -> None:
    page = (
        f"<html><head><script>var secret = 'tracking';</script></head><body>"
        f"<nav>Home | World | Sport</nav><article><h1>Troops</h1><p>{PARAGRAPHS[2]}</p>"
        f"</article><footer>Subscribe now</footer></body></html>"
    )
    write(tmp_path / "corpus", "page.html", page)
    build_index(tmp_path / "corpus", tmp_path / "index", MODEL, embedder=embedder)
    text = " ".join(p.text for p in store.load_index(tmp_path / "index").passages)
    assert "1,500 North Korean special forces" in text
    assert "tracking" not in text and "Subscribe" not in text and "Sport" not in text
    answer = QABot(tmp_path / "index", embedder).ask("Where did the special forces train?")
    assert answer.citations[0].source == "page.html" and "Vladivostok" in answer.answer


def test_a_news_page_is_indexed_without_its_furniture_and_cited_by_headline(
    tmp_path, embedder
) -> None:
    shutil.copy(NEWS_PAGE, tmp_path / "news-page.html")
    build_index(tmp_path, tmp_path / "index", MODEL, embedder=embedder)
    stored = store.load_index(tmp_path / "index")
    text = "\n".join(p.text for p in stored.passages)
    assert all(opening in text for opening in ARTICLE_PARAGRAPHS)
    assert [f for f in FURNITURE if f.lower() in text.lower()] == []
    answer = QABot(tmp_path / "index", embedder).ask("When will the ferry run again?")
    assert answer.answered and "3 March" in answer.answer
    citation = answer.citations[0]
    assert (citation.title, citation.published, citation.author) == (
        "Harbour ferry service to resume in March after storm repairs",
        "2025-02-14",
        "Maria Lindqvist",
    )


def test_metadata_of_unchanged_files_is_kept_by_a_rebuild(corpus, tmp_path, embedder) -> None:
    write(
        corpus, "story.md", "---\ntitle: Kursk raid\npublished: 2024-08-06\n---\n" + PARAGRAPHS[1]
    )
    build_index(corpus, tmp_path / "index", MODEL, embedder=embedder)
    write(corpus, "kursk.txt", PARAGRAPHS[0])
    build_index(corpus, tmp_path / "index", MODEL, embedder=embedder)
    documents = store.load_index(tmp_path / "index").documents
    assert documents["story.md"] == DocumentInfo("Kursk raid", "2024-08-06")
    assert documents["kursk.txt"] == DocumentInfo(PARAGRAPHS[0][:200])


def test_answers_can_be_scoped_to_one_article(corpus, tmp_path, embedder) -> None:
    write(corpus, "sport.txt", "The home team won the cup final 3-1 on Saturday in Kursk.")
    build_index(corpus, tmp_path / "index", MODEL, embedder=embedder)
    bot = QABot(tmp_path / "index", embedder)
    question = "Who won the cup final in Kursk?"
    scoped = bot.ask(question, source="sport.txt")
    assert scoped.answered and {c.source for c in scoped.citations} == {"sport.txt"}
    other = bot.ask(question, source="kursk.txt")  # which says nothing of a cup final
    assert not other.answered and {c.source for c in other.related} == {"kursk.txt"}


def test_one_build_at_a_time(corpus, tmp_path, embedder) -> None:
    index = tmp_path / "index"
    with builds.build_lock(index):
        with pytest.raises(BuildInProgress, match="Another build of .* is running"):
            build_index(corpus, index, MODEL, embedder=embedder)


def test_a_server_swaps_in_a_rebuilt_index_without_failing_a_request(
    corpus, tmp_path, embedder
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index, MODEL, embedder=embedder)
    bot = QABot(index, embedder)
    failures: list[BaseException] = []
    answered = 0
    stop = threading.Event()

    def ask_until_stopped() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                assert bot.ask("How many special forces arrived in Vladivostok?").answered
                answered += 1
            except BaseException as error:  # noqa: BLE001 - every failure counts
                failures.append(error)

    askers = [threading.Thread(target=ask_until_stopped) for _ in range(3)]
    for thread in askers:
        thread.start()
    write(corpus, "sport.txt", "The home team won the cup final 3-1 on Saturday.")
    build_index(corpus, index, MODEL, embedder=embedder)
    write(corpus, "sport.txt", "The away team won the cup final 2-0 on Sunday.")
    build_index(corpus, index, MODEL, embedder=embedder)
    time.sleep(0.3)
    stop.set()
    for thread in askers:
        thread.join()
    assert failures == [] and answered > 0
    assert "sport.txt" in bot.info().sources
    assert "away team" in bot.ask("Who won the cup final?", source="sport.txt").answer


def test_killing_a_build_at_any_moment_leaves_a_working_index(tmp_path, embedder) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write(corpus, "article.txt", ARTICLE_TEXT)
    build_index(corpus, index, MODEL, embedder=embedder)
    for number in range(40):  # enough text that embedding takes a few seconds
        write(corpus, f"copies/{number}.txt", f"Copy {number}.\n" + ARTICLE_TEXT)
    command = [
        sys.executable,
        "-m",
        "qa_bot",
        "build",
        "--corpus",
        str(corpus),
        "--index",
        str(index),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = builds.current_build(index)

    def embedding(began: float) -> bool:  # a few seconds in: reading, annotating, embedding
        return time.monotonic() - began > 4

    def writing_its_folder(began: float) -> bool:
        return any((index / "builds").glob("*.partial"))

    for moment in (embedding, writing_its_folder):
        process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        began = time.monotonic()
        while not moment(began):
            assert process.poll() is None, f"the build ended before {moment.__name__}"
            assert time.monotonic() - began < 300
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL  # killed, not finished
        assert builds.current_build(index) == before
        answer = QABot(index, embedder).ask("Where did the special forces train?")
        assert "Vladivostok" in answer.answer
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert len(store.load_index(index).source_ranges) == 41
    assert not list((index / "builds").glob("*.partial"))
    shutil.rmtree(corpus / "copies")


def test_a_server_keeps_its_index_when_the_new_build_is_damaged(
    copied_index, embedder, caplog
) -> None:
    bot = QABot(copied_index, embedder)
    old = builds.current_build(copied_index)
    damaged = copied_index / "builds" / "29990101T000000Z-000000001"
    shutil.copytree(copied_index / "builds" / old, damaged)
    (damaged / "passages.faiss").write_bytes(b"not an index")
    (copied_index / "CURRENT").write_text(damaged.name + "\n", encoding="utf-8")
    assert "Vladivostok" in bot.ask("Where did the special forces train?").answer
    assert bot.info().build_id == old
    assert "passages.faiss is damaged" in caplog.text
