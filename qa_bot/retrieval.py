"""Ranked passages and candidate sentences for a question: dense (FAISS) and BM25, fused by rank.

Dense retrieval finds paraphrases; BM25 finds the rare names and numbers that MiniLM blurs.
Reciprocal rank fusion combines them without calibrating one score against the other.
"""
from __future__ import annotations

from dataclasses import dataclass

import bm25s
import numpy as np
import Stemmer

from .chunking import Passage, Sentence
from .embedding import Embedder
from .errors import UnknownSource
from .store import StoredIndex

CANDIDATES = 50  # passages each retriever contributes to the fusion
RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al., 2009)
PASSAGES_FOR_SENTENCES = 4  # top fused passages whose sentences may be quoted


@dataclass(frozen=True)
class PassageHit:
    id: int
    passage: Passage
    rank: int  # 0 = best after fusion
    dense: float  # cosine similarity to the question
    lexical: float  # BM25 score


@dataclass(frozen=True)
class SentenceHit:
    hit: PassageHit
    position: int  # index of the sentence in its passage
    sentence: Sentence
    dense: float


@dataclass(frozen=True)
class Retrieval:
    passages: list[PassageHit]
    sentences: list[SentenceHit]


class Retriever:
    """Search one loaded index; built once per index, shared by all requests."""

    def __init__(self, stored: StoredIndex, embedder: Embedder) -> None:
        self.stored = stored
        self.embedder = embedder
        self.stemmer = Stemmer.Stemmer("english")
        self.bm25 = bm25s.BM25()
        corpus_tokens = bm25s.tokenize([p.text for p in stored.passages], stopwords="en",
                                       stemmer=self.stemmer, show_progress=False)
        self.bm25.index(corpus_tokens, show_progress=False)
        self.vocabulary = corpus_tokens.vocab

    @property
    def sources(self) -> list[str]:
        return list(self.stored.source_ranges)

    def scope(self, source: str | None) -> tuple[int, int]:
        """The passage id range to search: one source's passages, or all."""
        if source is None:
            return 0, len(self.stored.passages)
        if source not in self.stored.source_ranges:
            known = ", ".join(self.sources[:10])
            raise UnknownSource(f"No article named {source!r} in the index; use one of: {known}.")
        return self.stored.source_ranges[source]

    def retrieve(self, query: str, source: str | None = None) -> Retrieval:
        start, end = self.scope(source)
        query_vector = self.embedder.encode([query])[0]
        if source is None:
            dense_ids, dense_scores = self.stored.vectors.search(query_vector, CANDIDATES)
        else:
            dense_ids, dense_scores = self.stored.vectors.search_range(query_vector, start, end,
                                                                       CANDIDATES)
        lexical = self.lexical_scores(query)[start:end]
        lexical_ids = np.argsort(-lexical)[:CANDIDATES] + start
        fused: dict[int, float] = {}
        for ranking in (dense_ids, lexical_ids[lexical[lexical_ids - start] > 0]):
            for rank, passage_id in enumerate(ranking):
                fused[int(passage_id)] = fused.get(int(passage_id), 0.0) + 1.0 / (RRF_K + rank + 1)
        order = sorted(fused, key=lambda i: -fused[i])
        dense = self._dense_scores(query_vector, order)
        hits = [PassageHit(i, self.stored.passages[i], rank, dense[i], float(lexical[i - start]))
                for rank, i in enumerate(order)]
        return Retrieval(hits, self._sentences(query_vector, hits[:PASSAGES_FOR_SENTENCES]))

    def lexical_scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for `query`."""
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=self.stemmer,
                                show_progress=False, return_ids=False)[0]
        known = [t for t in tokens if t in self.vocabulary]
        if not known:
            return np.zeros(len(self.stored.passages), dtype=np.float32)
        return self.bm25.get_scores(known)

    def _dense_scores(self, query_vector: np.ndarray, ids: list[int]) -> dict[int, float]:
        if not ids:
            return {}
        vectors = np.vstack([self.stored.vectors.vectors(i, i + 1) for i in ids])
        return dict(zip(ids, (vectors @ query_vector).tolist()))

    def _sentences(self, query_vector: np.ndarray, hits: list[PassageHit]) -> list[SentenceHit]:
        offsets = self.stored.sentence_offsets
        result = []
        for hit in hits:
            first = offsets[hit.id]
            scores = self.stored.sentence_vectors[first:first + len(hit.passage.sentences)] @ query_vector
            result.extend(SentenceHit(hit, position, sentence, float(score))
                          for position, (sentence, score)
                          in enumerate(zip(hit.passage.sentences, scores)))
        return result
