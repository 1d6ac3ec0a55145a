"""Ranked passages and scored candidate sentences for a question.

Every sentence gets two signals: its cosine similarity to the question (MiniLM) and its BM25
score, which catches the rare names and numbers that MiniLM blurs. A passage ranks by its best
sentence on each signal, the two rankings fused by reciprocal rank. Sentences of the top
passages are the answer candidates, carrying an IDF-weighted share of the question's words.
Measured on the development data, scoring passages by their best sentence beat passage vectors
(top-3 hit 96% against 92%); see BENCHMARKS.md.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import bm25s
import numpy as np
import Stemmer

from qa_bot.answer.hits import PassageHit, Retrieval, SentenceHit
from qa_bot.answer.question import (
    STOPWORDS,
    asked_noun,
    asks_for_headline,
    content_words,
    fold_accents,
)
from qa_bot.encoder.embedding import Embedder, TokenVectors
from qa_bot.errors import UnknownSource
from qa_bot.indexing.store import StoredIndex

RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al., 2009)
TOP_PASSAGES = 3  # passages whose sentences may be quoted
RANKED_PASSAGES = 10  # passages a retrieval reports, best first
FOLLOWUP_WEIGHT = 0.3  # weight of the previous question's evidence for a follow-up
# A question word the article never uses stands for the article's closest word when their
# cosine reaches this. Measured with MiniLM: died~killed 0.79, wounded~casualties 0.67,
# president~presidency 0.86 reach it; followed~joined 0.57, officers~soldiers 0.55,
# uniforms~soldiers 0.54, helicopters~soldiers 0.47 do not.
SEMANTIC_MATCH = 0.6
# Above this many sentences in scope, only sentences of the passages that FAISS and BM25 put
# first are scored, instead of all of them.
EXACT_SENTENCE_LIMIT = 200_000
CANDIDATE_PASSAGES = 200
# Sentences whose word pieces in context are kept in memory, in each process that answers:
# a sentence has 30 pieces on average (the article's 20 and Normans' 176 sentences), so 1024
# sentences are 47 MB of float32. An article's sentences all fit.
TOKEN_CACHE_SENTENCES = 1024


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
        self.stemmer = Stemmer.Stemmer("english")
        sentences = [s.text for p in stored.passages for s in p.sentences]
        self.sentence_texts = sentences
        self._sentence_pieces: OrderedDict[int, TokenVectors] = OrderedDict()  # row -> pieces,
        #                                                    least recently used first
        self._pieces_lock = threading.Lock()
        self.sentence_passage = np.repeat(
            np.arange(len(stored.passages)), np.diff(stored.sentence_offsets)
        )
        self.bm25 = bm25s.BM25()
        tokens = bm25s.tokenize(
            sentences, stopwords=list(STOPWORDS), stemmer=self.stemmer, show_progress=False
        )
        self.bm25.index(tokens, show_progress=False)
        self.vocabulary = tokens.vocab
        self.sentence_terms = [
            self.terms(s) | frozenset(self.stemmer.stemWords(list(n.lemmas)))
            for s, n in zip(sentences, stored.sentence_notes)
        ]
        self.term_index = {term: i for i, term in enumerate(stored.terms)}
        self.term_stems = self.stemmer.stemWords(stored.terms)
        self.stem_term = {stem: i for i, stem in reversed(list(enumerate(self.term_stems)))}
        self.sentence_term_ids = [
            np.array(
                [self.term_index[lemma] for lemma in n.lemmas if lemma in self.term_index],
                dtype=np.int64,
            )
            for n in stored.sentence_notes
        ]
        self.source_term_ids = {
            source: np.unique(
                np.concatenate(
                    [
                        np.zeros(0, dtype=np.int64),
                        *self.sentence_term_ids[
                            stored.sentence_offsets[first] : stored.sentence_offsets[last]
                        ],
                    ]
                )
            )
            for source, (first, last) in stored.source_ranges.items()
        }
        self.source_terms = {
            source: frozenset().union(
                *self.sentence_terms[
                    self.stored.sentence_offsets[first] : self.stored.sentence_offsets[last]
                ]
            )
            for source, (first, last) in stored.source_ranges.items()
        }
        # The stems of words with accents, taken off: a reader types "Herve" for "Hervé".
        folded = [
            frozenset() if text.isascii() else self.terms(fold_accents(text)) for text in sentences
        ]
        self.source_folded_terms = {
            source: frozenset().union(
                *folded[self.stored.sentence_offsets[first] : self.stored.sentence_offsets[last]]
            )
            for source, (first, last) in stored.source_ranges.items()
        }
        self.folded_terms = frozenset().union(*folded)
        frequency: dict[str, int] = {}
        for terms in self.sentence_terms:
            for term in terms:
                frequency[term] = frequency.get(term, 0) + 1
        # The formula of bm25s's Lucene IDF, log((N + 1) / (df + 0.5)), but over these terms:
        # content words plus spaCy's lemmas, stemmed, which are not bm25s's tokens (its own
        # tokenizer and stopwords, no lemmas); bm25s also keeps no per-term IDF once indexed.
        count = len(sentences)
        self.idf = {t: math.log((count + 1) / (f + 0.5)) for t, f in frequency.items()}
        self.unseen_idf = math.log((count + 1) / 0.5)

    @property
    def sources(self) -> list[str]:
        return list(self.stored.source_ranges)

    def terms(self, text: str) -> frozenset[str]:
        return frozenset(self.stemmer.stemWords(content_words(text)))

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
        asked = self.weighted_terms(question, previous)
        scope_terms = self.source_terms[source] if source else self.idf.keys()
        stems = {
            self.stemmer.stemWord(w): w
            for text in (question, previous or "")
            for w in content_words(text)
        }
        folded_scope = self.source_folded_terms[source] if source else self.folded_terms
        missing = {
            stem: word
            for stem, word in stems.items()
            if stem not in scope_terms
            and self.stemmer.stemWord(fold_accents(word)) not in folded_scope
        }
        noun = asked_noun(question)
        noun_term = self.stem_term.get(self.stemmer.stemWord(noun)) if noun else None
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
            hit.id: frozenset().union(*self.sentence_terms[offsets[hit.id] : offsets[hit.id + 1]])
            for hit in hits[:TOP_PASSAGES]
        }
        unknown = (frozenset(asked) & missing.keys()) - aliases.keys()
        unknown_words = frozenset(
            w for w in content_words(question) if self.stemmer.stemWord(w) in unknown
        )
        unseen_words = frozenset(
            w for w in content_words(question) if self.stemmer.stemWord(w) in missing
        )
        # The question's own words: a follow-up's earlier question is grounded by its answer.
        compared = [
            stem for stem in self.terms(question) if stem in self.stem_term or stem in encoded
        ]
        word_vectors = np.array(
            [
                encoded[stem] if stem in encoded else self.stored.term_vectors[self.stem_term[stem]]
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
        ids = self.source_term_ids[source] if source else np.arange(len(self.term_stems))
        if not stems or not len(ids):
            return {}
        similarity = self.stored.term_vectors[ids] @ vectors.T
        best = similarity.argmax(axis=0)
        return {
            stem: self.term_stems[ids[row]]
            for column, (stem, row) in enumerate(zip(stems, best.tolist()))
            if similarity[row, column] >= SEMANTIC_MATCH
        }

    def weighted_terms(self, question: str, previous: str | None) -> dict[str, float]:
        """The question's stems with their IDF; a follow-up's earlier question counts at
        FOLLOWUP_WEIGHT for the stems the follow-up does not repeat."""
        asked = {t: self.idf.get(t, self.unseen_idf) for t in self.terms(question)}
        for term in self.terms(previous) if previous else ():
            asked.setdefault(term, FOLLOWUP_WEIGHT * self.idf.get(term, self.unseen_idf))
        return asked

    def signals(self, text: str, vector: np.ndarray, rows: np.ndarray) -> Signals:
        return Signals(
            rows,
            _take(self.stored.sentence_vectors, rows) @ vector,
            _take(self.lexical_scores(text), rows),
        )

    def overlap(self, text: str, rows: np.ndarray) -> np.ndarray:
        """IDF-weighted share of the words of `text` that each sentence contains."""
        asked = self.terms(text)
        weights = {t: self.idf.get(t, self.unseen_idf) for t in asked}
        total = sum(weights.values()) or 1.0
        return np.array(
            [sum(weights[t] for t in asked & self.sentence_terms[row]) / total for row in rows],
            dtype=np.float32,
        )

    def lexical_scores(self, text: str) -> np.ndarray:
        """BM25 score of every sentence in the index."""
        tokens = bm25s.tokenize(
            [text],
            stopwords=list(STOPWORDS),
            stemmer=self.stemmer,
            show_progress=False,
            return_ids=False,
        )[0]
        known = [t for t in tokens if t in self.vocabulary]
        if not known:
            return np.zeros(len(self.sentence_passage), dtype=np.float32)
        return self.bm25.get_scores(known)

    def _candidate_rows(
        self, question: str, vector: np.ndarray, first: int, last: int
    ) -> np.ndarray:
        """Sentence rows to score: all in scope, or those of the likeliest passages."""
        offsets = self.stored.sentence_offsets
        if offsets[last] - offsets[first] <= EXACT_SENTENCE_LIMIT:
            return np.arange(offsets[first], offsets[last])
        dense_ids, _ = self.stored.vectors.search(vector, CANDIDATE_PASSAGES)
        lexical = self.lexical_scores(question)
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
        overlap = self.overlap(question, rows)
        if previous:
            overlap = (overlap + FOLLOWUP_WEIGHT * self.overlap(previous, rows)) / (
                1 + FOLLOWUP_WEIGHT
            )
        owner = {row: hit for hit in top for row in range(offsets[hit.id], offsets[hit.id + 1])}
        piece_match = self.piece_matches(asked_pieces, rows)
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
                self.sentence_terms[row],
                earlier,
                None if noun is None else float(matches[-1]),
                tuple(
                    1.0 if stem in self.sentence_terms[row] else float(match)
                    for stem, match in zip(compared, matches)
                ),
                pieces,
            )
            for row, score, share, earlier, matches, pieces in zip(
                rows.tolist(), dense, overlap, context_dense, closest.T, piece_match
            )
        ]

    def piece_matches(self, asked: np.ndarray, rows: np.ndarray) -> list[tuple[float, ...]]:
        """For each sentence `rows`, how close its closest word piece comes to each of the
        question's content pieces (`asked`), both read in context: "killed" in "soldiers
        killed" is close to "casualties" in a sentence about losses, "visited" to nothing in one
        about sending troops. A sentence's pieces are encoded on its first question and kept
        (TOKEN_CACHE_SENTENCES, least recently used dropped first); two questions missing the
        same sentence at the same moment may both encode it, which costs time, nothing else."""
        rows_list = rows.tolist()
        with self._pieces_lock:
            known = {
                row: self._sentence_pieces[row] for row in rows_list if row in self._sentence_pieces
            }
        missing = [row for row in rows_list if row not in known]
        if missing:
            known.update(
                zip(
                    missing,
                    self.embedder.encode_tokens([self.sentence_texts[row] for row in missing]),
                )
            )
        with self._pieces_lock:
            for row in rows_list:
                self._sentence_pieces[row] = known[row]
                self._sentence_pieces.move_to_end(row)
            while len(self._sentence_pieces) > TOKEN_CACHE_SENTENCES:
                self._sentence_pieces.popitem(last=False)
        sentences = [known[row] for row in rows_list]
        return [
            tuple((asked @ sentence.piece_vectors.T).max(axis=1).tolist())
            if len(asked) and sentence.pieces
            else ()
            for sentence in sentences
        ]

    def closest_words(self, rows: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """For each of `vectors` (rows of the result) and each sentence `rows` (columns), the
        cosine similarity of the sentence's closest word (0 for a sentence without words), in
        one product over all their words."""
        ids = [self.sentence_term_ids[row] for row in rows.tolist()]
        sizes = np.array([len(i) for i in ids], dtype=np.int64)
        closest = np.zeros((len(vectors), len(ids)), dtype=np.float32)
        if not len(vectors) or not sizes.sum():
            return closest
        similarity = vectors @ self.stored.term_vectors[np.concatenate(ids)].T
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        filled = sizes > 0
        closest[:, filled] = np.maximum.reduceat(similarity, starts[filled], axis=1)
        return closest


def content_pieces(text: TokenVectors) -> np.ndarray:
    """The vectors of a text's content word pieces: whole words or their first piece, not
    stopwords ("didn" of "didn't" neither) nor the pieces inside a word ("##ivo")."""
    keep = [
        i
        for i, piece in enumerate(text.pieces)
        if piece.isalpha() and piece not in STOPWORDS and f"{piece}'t" not in STOPWORDS
    ]
    return text.piece_vectors[keep]


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
