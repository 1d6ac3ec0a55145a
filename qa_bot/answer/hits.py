"""What retrieval finds for a question: ranked passages and their scored sentences.

Plain values, apart from the engine (`retrieval`), so that what reads them needs neither faiss
nor the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa_bot.ingest.annotation import SentenceNotes
from qa_bot.ingest.chunking import Passage, Sentence
from qa_bot.ingest.corpus import DocumentInfo


@dataclass(frozen=True)
class PassageHit:
    id: int
    passage: Passage
    rank: int  # 0 = best after fusion
    dense: float  # best sentence cosine similarity
    lexical: float  # best sentence BM25 score


@dataclass(frozen=True)
class SentenceHit:
    hit: PassageHit
    position: int  # index of the sentence in its passage
    sentence: Sentence
    dense: float  # cosine similarity to the question
    overlap: float  # IDF-weighted share of the question's content words in the sentence
    notes: SentenceNotes
    terms: frozenset[str]  # stems of its content words and of their lemmas
    context: float | None = None  # a follow-up's: cosine similarity to the question it follows
    noun_match: float | None = None  # how close its closest word is to the noun the question
    #                                  asks about ("how many homes"), None when it asks none
    word_match: tuple[float, ...] = ()  # for each of Retrieval.compared, how close its closest
    #                                     word is (1 when it holds the word itself)
    piece_match: tuple[float, ...] = ()  # for each content word piece of the question, read in
    #                                      context, how close the sentence's closest piece is


@dataclass(frozen=True)
class Retrieval:
    passages: list[PassageHit]  # the best RANKED_PASSAGES, best first
    sentences: list[SentenceHit]  # the sentences of the top passages
    on_topic: float  # the best sentence similarity in scope: is the question on topic at all?
    documents: dict[str, DocumentInfo]  # source -> headline, date, author
    asked: dict[str, float]  # the question's stems -> IDF weight (a follow-up's earlier
    #                          question's at FOLLOWUP_WEIGHT)
    unknown: frozenset[str]  # asked stems that no sentence in scope contains, nor a close word
    unknown_words: frozenset[str]  # the question's own words behind those stems
    aliases: dict[str, str]  # an asked stem the scope lacks -> the stem of its closest word
    passage_terms: dict[int, frozenset[str]]  # stems of each top passage, by passage id
    compared: tuple[str, ...] = ()  # the question's stems whose meaning is compared with each
    #                                 sentence (not a follow-up's earlier question's)
    unseen_words: frozenset[str] = frozenset()  # the question's words the scope never uses,
    #                                             close words or not
