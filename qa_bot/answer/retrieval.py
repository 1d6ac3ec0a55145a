"""Ranked passages and scored candidate sentences for a question.

Every sentence gets two signals: its cosine similarity to the question (MiniLM) and its BM25
score, which catches the rare names and numbers that MiniLM blurs. A passage ranks by its best
sentence on each signal, the two rankings fused by reciprocal rank. Sentences of the top
passages are the answer candidates, carrying an IDF-weighted share of the question's words.
Measured on the development data, scoring passages by their best sentence beat passage vectors
(top-3 hit 96% against 92%); see BENCHMARKS.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from qa_bot.answer.hits import PassageHit, Retrieval, SentenceHit
from qa_bot.answer.lexicon import FOLLOWUP_WEIGHT, Lexicon
from qa_bot.answer.pieces import SentencePieces, content_pieces
from qa_bot.answer.question import asked_noun, asks_for_headline, content_words
from qa_bot.encoder.embedding import Embedder
from qa_bot.errors import UnknownSource
from qa_bot.indexing.store import StoredIndex

RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al., 2009)
TOP_PASSAGES = 3  # passages whose sentences may be quoted
RANKED_PASSAGES = 10  # passages a retrieval reports, best first
# A question word the article never uses stands for the article's closest word when their
# cosine reaches this. Measured with MiniLM: died~killed 0.79, wounded~casualties 0.67,
# president~presidency 0.86 reach it; followed~joined 0.57, officers~soldiers 0.55,
# uniforms~soldiers 0.54, helicopters~soldiers 0.47 do not.
SEMANTIC_MATCH = 0.6
# Above this many sentences in scope, only sentences of the passages that FAISS and BM25 put
# first are scored, instead of all of them.
EXACT_SENTENCE_LIMIT = 200_000
CANDIDATE_PASSAGES = 200


@dataclass(frozen=True)
class Signals:
    """Per-sentence signals for one question, over the sentences `rows` of the index."""

    rows: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray

    def mixed(self, previous: Signals, weight: float) -> Signals:
        """This question's signals with a follow-up's earlier question weighed in."""
        return Signals(
            self.rows,
            (self.dense + weight * previous.dense) / (1 + weight),
            self.lexical + weight * previous.lexical,
        )


class Retriever:
    """Search one loaded index; built once per index, shared by all requests."""

    def __init__(self, stored: StoredIndex, embedder: Embedder) -> None:
        self.stored = stored
        self.embedder = embedder
        self.lexicon = Lexicon(stored)
        self.pieces = SentencePieces(
            embedder, [s.text for p in stored.passages for s in p.sentences]
        )
        self.sentence_passage = np.repeat(
            np.arange(len(stored.passages)), np.diff(stored.sentence_offsets)
        )

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

    def retrieve(
        self, question: str, previous: str | None = None, source: str | None = None
    ) -> Retrieval:
        """Passages and candidate sentences for `question`; `previous` is the question a
        follow-up leans on, whose evidence counts at FOLLOWUP_WEIGHT."""
        first, last = self.scope(source)
        context = None
        lexicon = self.lexicon
        asked = lexicon.weighted_terms(question, previous)
        stems = {
            lexicon.stem(w): w for text in (question, previous or "") for w in content_words(text)
        }
        missing = {stem: word for stem, word in stems.items() if not lexicon.known(word, source)}
        noun = asked_noun(question)
        noun_term = lexicon.stem_term.get(lexicon.stem(noun)) if noun else None
        encode_noun = noun is not None and noun_term is None
        # One encoder call: the question (its vector and word pieces), the one it follows, its
        # words the scope lacks, and the noun it asks about when the corpus has no word of its
        # stem.
        texts = [
            question,
            *([previous] if previous else []),
            *missing.values(),
            *([noun] if noun and encode_noun else []),
        ]
        read = self.embedder.encode_tokens(texts)  # only the questions' pieces are used
        vectors = np.array([text.vector for text in read], dtype=np.float32)
        vector = vectors[0]
        asked_pieces = content_pieces(read[0])
        if not len(asked_pieces) and previous:
            # "What did they say?" names nothing of its own: the question it follows does.
            asked_pieces = content_pieces(read[1])
        first_missing = 1 + bool(previous)
        missing_vectors = vectors[first_missing : first_missing + len(missing)]
        encoded = dict(zip(missing, missing_vectors))
        aliases = self._aliases(list(missing), missing_vectors, source)
        rows = self._candidate_rows(question, vector, first, last)
        signals = self.signals(question, vector, rows)
        on_topic = float(signals.dense.max())
        if previous:
            earlier = self.signals(previous, vectors[1], rows)
            context = earlier.dense
            # "By when?" is on topic when it and the question it follows are, together.
            on_topic = float(((signals.dense + earlier.dense) / 2).max())
            signals = signals.mixed(earlier, FOLLOWUP_WEIGHT)
        hits = self._rank(signals)
        if asks_for_headline(question):
            hits = self._opening_first(hits, signals)
        offsets = self.stored.sentence_offsets
        passage_terms = {
            hit.id: frozenset().union(
                *lexicon.sentence_terms[offsets[hit.id] : offsets[hit.id + 1]]
            )
            for hit in hits[:TOP_PASSAGES]
        }
        unknown = (frozenset(asked) & missing.keys()) - aliases.keys()
        unknown_words = frozenset(w for w in content_words(question) if lexicon.stem(w) in unknown)
        unseen_words = frozenset(w for w in content_words(question) if lexicon.stem(w) in missing)
        # The question's own words: a follow-up's earlier question is grounded by its answer.
        compared = [
            stem for stem in lexicon.terms(question) if stem in lexicon.stem_term or stem in encoded
        ]
        word_vectors = np.array(
            [
                encoded[stem]
                if stem in encoded
                else self.stored.term_vectors[lexicon.stem_term[stem]]
                for stem in compared
            ],
            dtype=np.float32,
        ).reshape(-1, len(vector))
        noun_vector = (
            None
            if noun is None
            else vectors[-1]
            if encode_noun
            else self.stored.term_vectors[noun_term]
        )
        return Retrieval(
            hits,
            self._sentences(
                signals,
                hits[:TOP_PASSAGES],
                question,
                previous,
                context,
                noun_vector,
                compared,
                word_vectors,
                asked_pieces,
            ),
            on_topic,
            self.stored.documents,
            asked,
            unknown,
            unknown_words,
            aliases,
            passage_terms,
            tuple(compared),
            unseen_words,
        )

    def _aliases(self, stems: list[str], vectors: np.ndarray, source: str | None) -> dict[str, str]:
        """Each stem whose word is close enough to a word of the scope -> that word's stem."""
        ids = (
            self.lexicon.source_term_ids[source]
            if source
            else np.arange(len(self.lexicon.term_stems))
        )
        if not stems or not len(ids):
            return {}
        similarity = self.stored.term_vectors[ids] @ vectors.T
        best = similarity.argmax(axis=0)
        return {
            stem: self.lexicon.term_stems[ids[row]]
            for column, (stem, row) in enumerate(zip(stems, best.tolist()))
            if similarity[row, column] >= SEMANTIC_MATCH
        }

    def signals(self, text: str, vector: np.ndarray, rows: np.ndarray) -> Signals:
        return Signals(
            rows,
            _take(self.stored.sentence_vectors, rows) @ vector,
            _take(self.lexicon.lexical_scores(text), rows),
        )

    def _candidate_rows(
        self, question: str, vector: np.ndarray, first: int, last: int
    ) -> np.ndarray:
        """Sentence rows to score: all in scope, or those of the likeliest passages."""
        offsets = self.stored.sentence_offsets
        if offsets[last] - offsets[first] <= EXACT_SENTENCE_LIMIT:
            return np.arange(offsets[first], offsets[last])
        dense_ids, _ = self.stored.vectors.search(vector, CANDIDATE_PASSAGES)
        lexical = self.lexicon.lexical_scores(question)
        lexical_ids = self.sentence_passage[np.argsort(-lexical)[:CANDIDATE_PASSAGES]]
        ids = np.unique(np.concatenate([dense_ids, lexical_ids]))
        return np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in ids])

    def _rank(self, signals: Signals) -> list[PassageHit]:
        """The best RANKED_PASSAGES passages: each by its best sentence, rankings fused."""
        owners = self.sentence_passage[signals.rows]
        ids, starts = np.unique(owners, return_index=True)
        best_dense = np.maximum.reduceat(signals.dense, starts)
        best_lexical = np.maximum.reduceat(signals.lexical, starts)
        order = np.argsort(-_rank_fusion(best_dense, best_lexical), kind="stable")
        return [
            PassageHit(
                int(ids[i]),
                self.stored.passages[ids[i]],
                rank,
                float(best_dense[i]),
                float(best_lexical[i]),
            )
            for rank, i in enumerate(order[:RANKED_PASSAGES])
        ]

    def _opening_first(self, hits: list[PassageHit], signals: Signals) -> list[PassageHit]:
        """The passages with the best one's article's first passage, which holds its headline,
        put first: "What is the title of the article?" resembles no passage of a long article
        more than another."""
        first = self.stored.source_ranges[hits[0].passage.source][0]
        offsets = self.stored.sentence_offsets
        rows = np.arange(offsets[first], offsets[first + 1])
        at = np.searchsorted(signals.rows, rows)
        if at[-1] >= len(signals.rows) or not np.array_equal(signals.rows[at], rows):
            return hits  # a large corpus did not score it
        opening = PassageHit(
            first,
            self.stored.passages[first],
            0,
            float(signals.dense[at].max()),
            float(signals.lexical[at].max()),
        )
        others = [h for h in hits if h.id != first][: RANKED_PASSAGES - 1]
        return [opening, *(replace(h, rank=n) for n, h in enumerate(others, 1))]

    def _sentences(
        self,
        signals: Signals,
        top: list[PassageHit],
        question: str,
        previous: str | None,
        context: np.ndarray | None,
        noun: np.ndarray | None,
        compared: list[str],
        word_vectors: np.ndarray,
        asked_pieces: np.ndarray,
    ) -> list[SentenceHit]:
        """The sentences of the top passages with their dense score and word overlap; for a
        follow-up, `context` is each row's similarity to the question it follows; with the
        vector of the noun the question asks about, each sentence's closest word to it; for
        each `compared` stem (vectors `word_vectors`), each sentence's closest word to it; for
        each of the question's content word pieces (`asked_pieces`, vectors in context), each
        sentence's closest piece."""
        offsets = self.stored.sentence_offsets
        rows = np.array(
            [row for hit in top for row in range(offsets[hit.id], offsets[hit.id + 1])],
            dtype=np.int64,
        )
        at = np.searchsorted(signals.rows, rows)  # signals.rows is sorted
        dense = signals.dense[at]
        context_dense = context[at].tolist() if context is not None else [None] * len(rows)
        overlap = self.lexicon.overlap(question, rows)
        if previous:
            overlap = (overlap + FOLLOWUP_WEIGHT * self.lexicon.overlap(previous, rows)) / (
                1 + FOLLOWUP_WEIGHT
            )
        owner = {row: hit for hit in top for row in range(offsets[hit.id], offsets[hit.id + 1])}
        piece_match = self.pieces.matches(asked_pieces, rows)
        compared_vectors = word_vectors if noun is None else np.vstack([word_vectors, noun])
        closest = self.closest_words(rows, compared_vectors)
        return [
            SentenceHit(
                owner[row],
                row - offsets[owner[row].id],
                owner[row].passage.sentences[row - offsets[owner[row].id]],
                float(score),
                float(share),
                self.stored.sentence_notes[row],
                self.lexicon.sentence_terms[row],
                earlier,
                None if noun is None else float(matches[-1]),
                tuple(
                    1.0 if stem in self.lexicon.sentence_terms[row] else float(match)
                    for stem, match in zip(compared, matches)
                ),
                pieces,
            )
            for row, score, share, earlier, matches, pieces in zip(
                rows.tolist(), dense, overlap, context_dense, closest.T, piece_match
            )
        ]

    def closest_words(self, rows: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """For each of `vectors` (rows of the result) and each sentence `rows` (columns), the
        cosine similarity of the sentence's closest word (0 for a sentence without words), in
        one product over all their words."""
        ids = [self.lexicon.sentence_term_ids[row] for row in rows.tolist()]
        sizes = np.array([len(i) for i in ids], dtype=np.int64)
        closest = np.zeros((len(vectors), len(ids)), dtype=np.float32)
        if not len(vectors) or not sizes.sum():
            return closest
        similarity = vectors @ self.stored.term_vectors[np.concatenate(ids)].T
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        filled = sizes > 0
        closest[:, filled] = np.maximum.reduceat(similarity, starts[filled], axis=1)
        return closest


def _take(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """array[rows], as a view when rows are one contiguous run (a whole scope): no copy."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return array[rows[0] : rows[-1] + 1]
    return array[rows]


def _rank_fusion(*scores: np.ndarray) -> np.ndarray:
    """Reciprocal rank fusion: the sum over rankings of 1 / (RRF_K + rank)."""
    fused = np.zeros(len(scores[0]))
    for score in scores:
        ranks = np.argsort(np.argsort(-score, kind="stable"), kind="stable")
        fused += 1.0 / (RRF_K + 1 + ranks)
    return fused
