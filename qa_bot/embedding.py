"""Text to vectors: the only module that imports sentence_transformers.

Vectors are float32 and L2-normalised, so inner product is cosine similarity. The import is
deferred to `Embedder.load`: a rebuild that finds nothing changed never pays for it.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError

BATCH_SIZE = 64
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

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


def model_fingerprint(model_path: str, known: tuple[str, str] | None = None) -> str:
    """A hash of the model's weights: an index is only valid for the exact weights it used.

    `known` is a (weights_stamp, fingerprint) pair recorded earlier; when the stamp still
    matches, the 90 MB of weights are not read again."""
    if known and known[0] == weights_stamp(model_path):
        return known[1]
    with open(weights_file(model_path), "rb") as weights:
        return "sha256:" + hashlib.file_digest(weights, "sha256").hexdigest()


def model_name(model_path: str) -> str:
    return Path(model_path).name if Path(model_path).name != "model" else Path(model_path).parent.name


@dataclass
class Embedder:
    name: str
    fingerprint: str
    dimension: int
    model: Any

    @classmethod
    def load(cls, model_path: str) -> Embedder:
        """Load the model from a local folder; nothing is downloaded."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        fingerprint = model_fingerprint(model_path)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        model = SentenceTransformer(model_path, device="cpu")
        dimension = model.get_embedding_dimension()
        return cls(model_name(model_path), fingerprint, int(dimension), model)

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Word pieces the model reads for `text`, special tokens included."""
        return len(self.model.tokenizer(text)["input_ids"])

    def encode(self, texts: Sequence[str], on_progress: Progress | None = None) -> np.ndarray:
        """Normalised float32 vectors, one row per text, encoded in batches."""
        chunks = []
        for start in range(0, len(texts), BATCH_SIZE * 4):
            batch = list(texts[start:start + BATCH_SIZE * 4])
            chunks.append(self.model.encode(
                batch, batch_size=BATCH_SIZE, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            ))
            if on_progress:
                on_progress(start + len(batch), len(texts))
        if not chunks:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(chunks), dtype=np.float32)
