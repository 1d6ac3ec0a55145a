"""Word pieces read in context: a question's content pieces against each sentence's.

"killed" in "soldiers killed" is close to "casualties" in a sentence about losses, and
"visited" to nothing in one about sending troops: the encoder's per-piece vectors say so where
whole-sentence vectors blur it. A sentence's pieces are encoded on its first question and kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from qa_bot.answer.question import STOPWORDS
from qa_bot.encoder.embedding import Embedder, TokenVectors

# Sentences whose word pieces in context are kept in memory, in each process that answers:
# a sentence has 30 pieces on average (the article's 20 and Normans' 176 sentences), so 1024
# sentences are 47 MB of float32. An article's sentences all fit.
TOKEN_CACHE_SENTENCES = 1024


def content_pieces(text: TokenVectors) -> np.ndarray:
    """The vectors of a text's content word pieces: whole words or their first piece, not
    stopwords ("didn" of "didn't" neither) nor the pieces inside a word ("##ivo")."""
    keep = [
        i
        for i, piece in enumerate(text.pieces)
        if piece.isalpha() and piece not in STOPWORDS and f"{piece}'t" not in STOPWORDS
    ]
    return text.piece_vectors[keep]


class SentencePieces:
    """The word pieces of an index's sentences, encoded when first needed and kept
    (TOKEN_CACHE_SENTENCES, least recently used dropped first); shared by all requests. Two
    questions missing the same sentence at the same moment may both encode it, which costs
    time, nothing else."""

    def __init__(self, embedder: Embedder, sentence_texts: list[str]) -> None:
        self.embedder = embedder
        self.sentence_texts = sentence_texts
        self._kept: OrderedDict[int, TokenVectors] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def of(self, rows: list[int]) -> list[TokenVectors]:
        with self._lock:
            known = {row: self._kept[row] for row in rows if row in self._kept}
        missing = [row for row in rows if row not in known]
        if missing:
            texts = [self.sentence_texts[row] for row in missing]
            known.update(zip(missing, self.embedder.encode_tokens(texts)))
        with self._lock:
            for row in rows:
                self._kept[row] = known[row]
                self._kept.move_to_end(row)
            while len(self._kept) > TOKEN_CACHE_SENTENCES:
                self._kept.popitem(last=False)
        return [known[row] for row in rows]

    def matches(self, asked: np.ndarray, rows: np.ndarray) -> list[tuple[float, ...]]:
        """For each sentence `rows`, how close its closest word piece comes to each of the
        question's content pieces (`asked`), both read in context."""
        return [
            tuple((asked @ sentence.piece_vectors.T).max(axis=1).tolist())
            if len(asked) and sentence.pieces
            else ()
            for sentence in self.of(rows.tolist())
        ]
