"""The ONNX int8 encoder against its reference (sentence-transformers), the torch-free query
path, and the batching of questions that arrive together."""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from qa_bot.config import bundled_model_path
from qa_bot.encoder.embedding import QueryBatcher
from qa_bot.ingest.chunking import ChunkingSettings, chunk_document
from tests.support import ARTICLE, ROOT, free_port, shared_file, word_pieces

TORCH_MODULES = ("torch", "sentence_transformers", "transformers")
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


def sentences_of(path: Path) -> list[str]:
    passages = chunk_document("x", path.read_text(encoding="utf-8"), ChunkingSettings())
    return [s.text for p in passages for s in p.sentences]


@pytest.fixture(scope="module")
def reference():  # type: ignore[no-untyped-def]
    """sentence-transformers on the same model folder: what the ONNX encoder must reproduce."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(bundled_model_path(), device="cpu")


@pytest.mark.parametrize("name", ["article", "squad2-normans.txt"], ids=["article", "normans"])
def test_every_sentence_encodes_as_sentence_transformers_does(name, embedder, reference) -> None:
    path = ARTICLE if name == "article" else shared_file(name)
    sentences = sentences_of(path)
    expected = reference.encode(sentences, normalize_embeddings=True, convert_to_numpy=True)
    in_batches = embedder.encode(sentences)  # as a build encodes
    one_by_one = np.vstack([embedder.encode([s]) for s in sentences[:60]])  # as questions are
    assert in_batches.dtype == np.float32 and in_batches.shape == expected.shape
    assert np.allclose(np.linalg.norm(in_batches, axis=1), 1, atol=1e-5)
    assert (in_batches * expected).sum(axis=1).min() >= 0.99
    assert (one_by_one * expected[:60]).sum(axis=1).min() >= 0.99


def test_word_pieces_in_context_are_the_models_last_layer(embedder, reference) -> None:
    texts = ["How many special forces arrived in Vladivostok?", "Sheep."]
    pieces = embedder.encode_tokens(texts)
    assert pieces[0].pieces[-5:] == ("vlad", "##ivo", "##sto", "##k", "?")
    assert pieces[1].pieces == ("sheep", ".")  # no [CLS], [SEP] or padding
    for text, found in zip(texts, pieces):
        expected = reference.encode(text, output_value="token_embeddings").cpu().numpy()[1:-1]
        expected /= np.linalg.norm(expected, axis=1, keepdims=True)
        assert found.piece_vectors.shape == expected.shape
        assert np.allclose(np.linalg.norm(found.piece_vectors, axis=1), 1, atol=1e-5)
        assert (found.piece_vectors * expected).sum(axis=1).min() >= 0.99
        assert float(found.vector @ embedder.encode([text])[0]) >= 0.9999


def test_word_pieces_are_counted_and_truncated_as_sentence_transformers_does(
    embedder, reference
) -> None:
    long_text = ARTICLE.read_text(encoding="utf-8")
    for text in ("Kim Jong-un's troops", long_text):
        assert word_pieces(text) == len(reference.tokenizer(text)["input_ids"])
    assert embedder.max_tokens == reference.max_seq_length == 256
    assert word_pieces(long_text) > 256  # so the next line tests truncation
    vector = embedder.encode([long_text])[0]
    assert float(vector @ reference.encode([long_text], normalize_embeddings=True)[0]) >= 0.99


def run_and_list_imports(*args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the CLI in a fresh interpreter; which torch-side modules did it import?"""
    script = (
        "import sys\nfrom qa_bot.cli import main\ncode = main(sys.argv[1:])\n"
        f"print('IMPORTED', [m for m in {TORCH_MODULES!r} if m in sys.modules], "
        "file=sys.stderr)\nsys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = [ln for ln in done.stderr.splitlines() if ln.startswith("IMPORTED")][-1]
    return done, json.loads(line.split(" ", 1)[1].replace("'", '"'))


def test_ask_status_and_a_no_change_build_never_import_torch(article_index) -> None:
    corpus = str(article_index.parent / "corpus")
    for args in (
        ["ask", "--index", str(article_index), "Which region did Ukraine enter?"],
        ["status", "--index", str(article_index), "--corpus", corpus],
        ["build", "--index", str(article_index), "--corpus", corpus],
    ):
        done, imported = run_and_list_imports(*args)
        assert done.returncode == 0, done.stderr
        assert imported == [], f"{args[0]} imported {imported}"
    assert (
        "Kursk"
        in run_and_list_imports(
            "ask", "--index", str(article_index), "Which region did Ukraine enter?"
        )[0].stdout
    )


def test_the_server_answers_without_torch_in_its_memory(article_index, tmp_path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qa_bot",
                "serve",
                "--port",
                str(port),
                "--index",
                str(article_index),
                "--corpus",
                str(article_index.parent / "corpus"),
            ],
            cwd=ROOT,
            env=ENV,
            stdout=output,
            stderr=output,
        )
    try:
        url = f"http://127.0.0.1:{port}/api/ask"
        request = urllib.request.Request(
            url,
            json.dumps({"question": "Where did the special forces train?"}).encode(),
            {"Content-Type": "application/json"},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = json.load(urllib.request.urlopen(request, timeout=10))
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert "Vladivostok" in answer["answer"]
        # The server and its worker processes (the ones that encode).
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        maps = "".join(
            Path(f"/proc/{pid}/maps").read_text() for pid in [str(server.pid), *children]
        )
        assert "onnxruntime" in maps  # the encoder is loaded, so the next line means something
        assert "libtorch" not in maps
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_questions_asked_together_are_encoded_together(embedder) -> None:
    calls: list[int] = []

    class Recording:
        dimension = embedder.dimension

        def encode_tokens(self, texts):  # type: ignore[no-untyped-def]
            calls.append(len(texts))
            time.sleep(0.05)  # a slow encoder, so that the others queue behind the first
            return embedder.encode_tokens(texts)

    batcher = QueryBatcher(Recording())  # type: ignore[arg-type]
    questions = [
        "Which region did Ukraine enter?",
        "Who painted the Mona Lisa?",
        "How many troops arrived?",
        "What is the capital of France?",
        "When was the treaty signed?",
        "Why does Russia need soldiers?",
        "Where is Vladivostok?",
        "How tall is Mount Everest?",
        "What did the Pentagon say?",
        "Who won the cup final?",
        "How much does bread cost?",
        "What language is spoken in Brazil?",
    ]
    results: dict[int, np.ndarray] = {}

    def ask(n: int) -> None:
        results[n] = batcher.encode([questions[n]])[0]

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(calls) == 12 and len(calls) < 12 and max(calls) > 1
    alone = embedder.encode(questions)
    for n, vector in results.items():  # each caller got its own question's vector
        assert int(np.argmax(alone @ vector)) == n and float(alone[n] @ vector) >= 0.99


def test_an_encoder_failure_reaches_every_waiting_caller(embedder) -> None:
    class Broken:
        dimension = embedder.dimension

        def encode_tokens(self, texts):  # type: ignore[no-untyped-def]
            raise RuntimeError("encoder broke")

    batcher = QueryBatcher(Broken())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="encoder broke"):
        batcher.encode(["Anything?"])
    with pytest.raises(RuntimeError, match="encoder broke"):  # the worker survived
        batcher.encode(["Again?"])
