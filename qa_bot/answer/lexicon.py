"""The words of a loaded index: stems, BM25 over its sentences, IDF, and each article's terms.

A sentence's terms are its content words and spaCy's lemmas (noted at build time), stemmed, so
"killed" in a question meets "kill" and "killing" in the article. Built once per index and read
by every question; nothing here encodes.
"""

from __future__ import annotations

import math

import bm25s
import numpy as np
import Stemmer

from qa_bot.answer.question import STOPWORDS, content_words, fold_accents
from qa_bot.indexing.store import StoredIndex

FOLLOWUP_WEIGHT = 0.3  # weight of the previous question's evidence for a follow-up


class Lexicon:
    """The index's terms, per sentence and per article, with BM25 and IDF over sentences."""

    def __init__(self, stored: StoredIndex) -> None:
        self.stemmer = Stemmer.Stemmer("english")
        sentences = [s.text for p in stored.passages for s in p.sentences]
        self.sentence_count = len(sentences)
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
        term_index = {term: i for i, term in enumerate(stored.terms)}
        self.term_stems = self.stemmer.stemWords(stored.terms)
        self.stem_term = {stem: i for i, stem in reversed(list(enumerate(self.term_stems)))}
        self.sentence_term_ids = [
            np.array(
                [term_index[lemma] for lemma in n.lemmas if lemma in term_index], dtype=np.int64
            )
            for n in stored.sentence_notes
        ]
        offsets = stored.sentence_offsets
        row_ranges = {
            source: (offsets[first], offsets[last])
            for source, (first, last) in stored.source_ranges.items()
        }
        self.source_term_ids = {
            source: np.unique(
                np.concatenate([np.zeros(0, dtype=np.int64), *self.sentence_term_ids[start:end]])
            )
            for source, (start, end) in row_ranges.items()
        }
        self.source_terms = {
            source: frozenset().union(*self.sentence_terms[start:end])
            for source, (start, end) in row_ranges.items()
        }
        # The stems of words with accents, taken off: a reader types "Herve" for "Hervé".
        folded = [
            frozenset() if text.isascii() else self.terms(fold_accents(text)) for text in sentences
        ]
        self.source_folded_terms = {
            source: frozenset().union(*folded[start:end])
            for source, (start, end) in row_ranges.items()
        }
        self.folded_terms = frozenset().union(*folded)
        self.all_terms = frozenset().union(*self.sentence_terms)
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

    def terms(self, text: str) -> frozenset[str]:
        return frozenset(self.stemmer.stemWords(content_words(text)))

    def stem(self, word: str) -> str:
        return self.stemmer.stemWord(word)

    def scope_terms(self, source: str | None) -> frozenset[str]:
        """The terms of one article, or of the whole index."""
        return self.source_terms[source] if source else self.all_terms

    def known(self, word: str, source: str | None) -> bool:
        """Whether the scope holds the word, as written or with its accents taken off."""
        folded = self.source_folded_terms[source] if source else self.folded_terms
        return (
            self.stem(word) in self.scope_terms(source) or self.stem(fold_accents(word)) in folded
        )

    def weighted_terms(self, question: str, previous: str | None) -> dict[str, float]:
        """The question's stems with their IDF; a follow-up's earlier question counts at
        FOLLOWUP_WEIGHT for the stems the follow-up does not repeat."""
        asked = {t: self.idf.get(t, self.unseen_idf) for t in self.terms(question)}
        for term in self.terms(previous) if previous else ():
            asked.setdefault(term, FOLLOWUP_WEIGHT * self.idf.get(term, self.unseen_idf))
        return asked

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
            return np.zeros(self.sentence_count, dtype=np.float32)
        return self.bm25.get_scores(known)
