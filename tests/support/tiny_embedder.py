"""A tiny deterministic embedder for logic tests that need no model (llm's EmbedDemo).

Each word is hashed to one of DIMENSION slots: texts sharing words have a positive cosine,
texts sharing none have zero. It encodes in microseconds, so an index of a few passages
builds and searches without loading MiniLM.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence

import numpy as np

from qa_bot.encoder.embedding import TokenVectors

DIMENSION = 64
WORD = re.compile(r"\w+")


class HashingEmbedder:
    """What indexing.build_index and retrieval.Retriever use of an Embedder: encode() and
    encode_tokens() (each word a piece, its own slot its vector)."""

    name = "hashing-bag-of-words"
    dimension = DIMENSION

    def encode(
        self, texts: Sequence[str], on_progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in WORD.findall(text.lower()):
                vectors[row, zlib.crc32(word.encode()) % DIMENSION] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if on_progress:
            on_progress(len(texts), len(texts))
        return vectors / np.maximum(norms, 1e-9)

    def encode_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        found = []
        for text, vector in zip(texts, self.encode(texts)):
            pieces = WORD.findall(text.lower())
            vectors = np.zeros((len(pieces), DIMENSION), dtype=np.float32)
            for row, piece in enumerate(pieces):
                vectors[row, zlib.crc32(piece.encode()) % DIMENSION] = 1.0
            found.append(TokenVectors(vector, tuple(pieces), vectors))
        return found
