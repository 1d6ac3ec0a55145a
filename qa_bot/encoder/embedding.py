"""Text to vectors: the only module that imports the encoder (onnxruntime and tokenizers).

The sentence-transformers model is exported once to ONNX and quantized to int8 (per-channel
weights) by `qa_bot.encoder.onnx_export`, run in a child process because it imports torch; the
artifact is cached in the user's cache folder (config.cache_dir) and re-exported only when the
model's weights change. Queries and builds then encode with onnxruntime and the `tokenizers`
library: truncation at the model's max_seq_length, mean pooling over the attention mask, L2
normalisation, as sentence-transformers does (cosine >= 0.99 to it:
tests/encoder/test_embedding.py).

Vectors are float32 and L2-normalised, so inner product is cosine similarity. Nothing here is
imported until `Embedder.load`: a rebuild that finds nothing changed never pays for it.
"""

from __future__ import annotations

import hashlib
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from qa_bot.config import cache_dir, child_environment, set_environment_defaults
from qa_bot.errors import ConfigError

# Texts per onnxruntime call in a build, sorted by length so that little is padding; the same
# as the most questions QueryBatcher encodes at once.
BATCH_SIZE = 32
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# One onnxruntime thread per call. Measured serving over HTTP on this 2-core machine with other
# load: onnxruntime's default (a spinning thread per core) cost 13 ms of CPU per answer
# against 7 ms with one thread, and answered half as many questions a second. The request
# threads' Python work runs on the other core meanwhile (BENCHMARKS.md, section E).
INTRA_OP_THREADS = 1
# onnxruntime dynamic quantization, per-channel int8 weights (feed-forward layers fp32:
# onnx_export.py)
ENCODER_KIND = "onnx-int8"
RECORD_FILE = "encoder.json"
ONNX_FILE = "model-int8.onnx"

Progress = Callable[[int, int], None]


def weights_file(model_path: str) -> Path:
    for name in WEIGHT_FILES:
        if (Path(model_path) / name).is_file():
            return Path(model_path) / name
    raise ConfigError(
        f"No model weights in {model_path}; set QA_BOT_MODEL to a sentence-transformers folder."
    )


def weights_stamp(model_path: str) -> str:
    """Size and modification time of the weights: cheap to read, changes when they change."""
    status = weights_file(model_path).stat()
    return f"{status.st_size}:{status.st_mtime_ns}"


def file_sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return "sha256:" + hashlib.file_digest(file, "sha256").hexdigest()


def model_fingerprint(model_path: str) -> str:
    """A hash of the model's weights: an index is only valid for the exact weights it used.
    Computed once, at export; encoder.json keeps it with the weights' stamp."""
    return file_sha256(weights_file(model_path))


def model_name(model_path: str) -> str:
    return (
        Path(model_path).name if Path(model_path).name != "model" else Path(model_path).parent.name
    )


@dataclass(frozen=True)
class EncoderRecord:
    """What `qa_bot.encoder.onnx_export` made from a model folder, stored as encoder.json
    beside it."""

    model_path: str
    model_weights: str  # weights_stamp of the model when exported
    model_fingerprint: str
    onnx_sha256: str
    dimension: int
    max_tokens: int  # sentence-transformers' max_seq_length: longer texts are truncated

    @property
    def encoder(self) -> str:
        """The encoder an index records: its kind and the hash of the artifact."""
        return f"{ENCODER_KIND} {self.onnx_sha256}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def encoder_folder(model_path: str) -> Path:
    """The cache folder of one model folder's exported encoder."""
    key = hashlib.sha256(str(Path(model_path).resolve()).encode()).hexdigest()[:12]
    return cache_dir() / "encoders" / f"{model_name(model_path)}-{key}"


def exported_encoder(model_path: str) -> EncoderRecord | None:
    """The record of this model's exported encoder, or None when it is missing or was exported
    from other weights. Cheap: reads a small file and two file stamps, imports nothing."""
    folder = encoder_folder(model_path)
    try:
        record = EncoderRecord(**json.loads((folder / RECORD_FILE).read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError, TypeError):
        return None
    if record.model_weights != weights_stamp(model_path) or not (folder / ONNX_FILE).is_file():
        return None
    return record


def ensure_encoder(model_path: str) -> EncoderRecord:
    """The exported encoder, exporting it first (about 10 s, once) when there is none.

    The export imports torch, so it runs in a child process: this one stays torch-free."""
    record = exported_encoder(model_path)
    if record:
        return record
    weights_file(model_path)  # a clear error for a folder without weights
    print(
        f"Exporting {model_name(model_path)} to ONNX int8 (once, about 10 s)...",
        file=sys.stderr,
        flush=True,
    )
    done = subprocess.run(
        [sys.executable, "-m", "qa_bot.encoder.onnx_export", model_path],
        env=child_environment(str(Path(__file__).resolve().parents[2])),
        capture_output=True,
        text=True,
    )
    record = exported_encoder(model_path)
    if done.returncode != 0 or record is None:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(
            f"Could not export the model in {model_path} to ONNX ({last}); "
            f"set QA_BOT_MODEL to a sentence-transformers folder."
        )
    return record


@dataclass(frozen=True)
class TokenVectors:
    """A text's vector, and its word pieces ("vladivostok", "heli", "##cop" ...) with their
    vectors in context: the encoder's last layer, which the text's vector is the mean of. A
    text past the model's max_tokens has no pieces beyond the cut, as it has no vector of them."""

    vector: np.ndarray  # float32, normalised
    pieces: tuple[str, ...]  # special tokens left out
    piece_vectors: np.ndarray  # float32, one normalised row per piece


@dataclass
class Embedder:
    name: str
    fingerprint: str  # of the model's weights
    dimension: int
    encoder: str  # kind and artifact hash, recorded in the index manifest
    max_tokens: int
    onnx_path: Path
    tokenizer: Any  # tokenizers.Tokenizer, truncating at max_tokens and padding to the longest

    @classmethod
    def load(cls, model_path: str) -> Embedder:
        """Load the exported encoder of a local model folder; nothing is downloaded."""
        set_environment_defaults()
        record = ensure_encoder(model_path)
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
        padding = tokenizer.padding or {}
        tokenizer.enable_truncation(max_length=record.max_tokens)
        tokenizer.enable_padding(
            pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]")
        )
        return cls(
            model_name(model_path),
            record.model_fingerprint,
            record.dimension,
            record.encoder,
            record.max_tokens,
            encoder_folder(model_path) / ONNX_FILE,
            tokenizer,
        )

    @cached_property
    def session(self) -> Any:
        """The onnxruntime session, made on the first encode: a server whose worker processes
        answer never encodes, and is spared its memory (about 100 MB)."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = INTRA_OP_THREADS
        return onnxruntime.InferenceSession(
            str(self.onnx_path), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: Sequence[str], on_progress: Progress | None = None) -> np.ndarray:
        """Normalised float32 vectors, one row per text, encoded in batches of similar length."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        done = 0
        for rows in similar_lengths(texts):
            vectors[rows] = self._encode_batch([texts[i] for i in rows])
            done += len(rows)
            if on_progress:
                on_progress(done, len(texts))
        return vectors

    def encode_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Each text's vector and word pieces in context, encoded in batches of similar
        length. The pieces cost no more encoding than the vector: a question gets both from
        one encoder call."""
        found: dict[int, TokenVectors] = {}
        for rows in similar_lengths(texts):
            encodings, hidden = self._hidden([texts[i] for i in rows])
            vectors = _pooled(encodings, hidden)
            for i, encoding, states, vector in zip(rows, encodings, hidden, vectors):
                keep = [
                    j
                    for j, (special, attended) in enumerate(
                        zip(encoding.special_tokens_mask, encoding.attention_mask)
                    )
                    if attended and not special
                ]
                found[i] = TokenVectors(
                    vector, tuple(encoding.tokens[j] for j in keep), _normalised(states[keep])
                )
        return [found[i] for i in range(len(texts))]

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return _pooled(*self._hidden(texts))

    def _hidden(self, texts: list[str]) -> tuple[list[Any], np.ndarray]:
        """The texts' encodings (padded to the longest) and the encoder's last layer."""
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        return encodings, hidden


def _pooled(encodings: list[Any], hidden: np.ndarray) -> np.ndarray:
    """Mean pooling over the attention mask, normalised: sentence-transformers' text vector."""
    mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)[:, :, None]
    return _normalised((hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9))


def _normalised(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def similar_lengths(texts: Sequence[str]) -> list[list[int]]:
    """The texts' positions in batches of at most BATCH_SIZE, longest first, a batch ending
    where a text is under half as long as the batch's first. A batch is padded to its longest
    text and the encoder's time grows with the padded length: a question and the four words of
    it that the article lacks took 20.6 ms in one batch and 8.9 ms in two (BENCHMARKS.md, E)."""
    batches: list[list[int]] = []
    for i in sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True):
        batch = batches[-1] if batches else None
        if batch and len(batch) < BATCH_SIZE and 2 * len(texts[i]) >= len(texts[batch[0]]):
            batch.append(i)
        else:
            batches.append([i])
    return batches


class QueryBatcher:
    """Questions that arrive together are encoded together, in one onnxruntime call (with the
    sentences a question needs read piece by piece, the first time it needs them).

    Callers (request threads) queue their texts and wait; one worker thread takes the first
    text, everything queued behind it and, when more than one was waiting (the server is
    busy), whatever arrives within GATHER_SECONDS more, up to MAX_BATCH texts. onnxruntime
    releases the GIL, so the other requests' Python work runs while a batch encodes. A lone
    question is never held back. Everything else is the wrapped Embedder's.
    """

    GATHER_SECONDS = 0.002
    MAX_BATCH = BATCH_SIZE

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._queue: queue.SimpleQueue[tuple[str, Future[TokenVectors]]] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.embedder, name)

    def encode(self, texts: Sequence[str], on_progress: Progress | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.vstack([encoded.vector for encoded in self.encode_tokens(texts)])

    def encode_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        futures = [self._submit(text) for text in texts]
        return [future.result() for future in futures]

    def _submit(self, text: str) -> Future[TokenVectors]:
        if self._worker is None:
            with self._start_lock:
                if self._worker is None:
                    self._worker = threading.Thread(
                        target=self._run, daemon=True, name="qa_bot-encoder"
                    )
                    self._worker.start()
        future: Future[TokenVectors] = Future()
        self._queue.put((text, future))
        return future

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            self._take_waiting(batch)
            if len(batch) > 1:
                deadline = time.monotonic() + self.GATHER_SECONDS
                while len(batch) < self.MAX_BATCH and (left := deadline - time.monotonic()) > 0:
                    try:
                        batch.append(self._queue.get(timeout=left))
                    except queue.Empty:
                        break
            try:
                encoded = self.embedder.encode_tokens([text for text, _ in batch])
            except BaseException as error:  # noqa: BLE001 - handed to the waiting callers
                for _, future in batch:
                    future.set_exception(error)
                continue
            for (_, future), result in zip(batch, encoded):
                future.set_result(result)

    def _take_waiting(self, batch: list[tuple[str, Future[TokenVectors]]]) -> None:
        while len(batch) < self.MAX_BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                return
