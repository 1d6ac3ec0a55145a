"""Retrieval logic on a tiny index built with a hashing embedder: no model, milliseconds a test
(the index is built once per module, spaCy annotating it). Quality with the real model is
tested through the bot (test_answer.py, test_bot.py)."""

import numpy as np
import pytest

from qa_bot.answer.lexicon import FOLLOWUP_WEIGHT
from qa_bot.answer.retrieval import RRF_K, Retriever, _rank_fusion
from qa_bot.config import bundled_model_path
from qa_bot.errors import UnknownSource
from qa_bot.indexing import store
from qa_bot.indexing.build import build_index
from tests.support.tiny_embedder import HashingEmbedder

HARBOUR = (
    "The harbour of Zorvik was rebuilt in 1921 after the great storm.\n\n"
    "Fishermen of Zorvik land herring and cod every morning.\n"
)
MOUNTAIN = (
    "The Kelmar pass is closed by snow from November to March.\n\n"
    "Shepherds drive their sheep over the Kelmar pass in early summer.\n"
)


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    folder = tmp_path_factory.mktemp("retrieval")
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (corpus / "mountain.txt").write_text(MOUNTAIN, encoding="utf-8")
    build_index(corpus, folder / "index", bundled_model_path(), embedder=HashingEmbedder())
    return Retriever(store.load_index(folder / "index"), HashingEmbedder())


def test_the_passage_holding_a_rare_name_ranks_first(retriever) -> None:
    retrieval = retriever.retrieve("When was the harbour of Zorvik rebuilt?")
    best = retrieval.passages[0].passage
    assert best.source == "harbour.txt" and "1921" in best.text
    assert [hit.rank for hit in retrieval.passages] == list(range(len(retrieval.passages)))


def test_candidate_sentences_slice_their_passage_and_carry_word_overlap(retriever) -> None:
    retrieval = retriever.retrieve("Which sheep cross the Kelmar pass?")
    for hit in retrieval.sentences:
        passage = hit.hit.passage
        assert (
            passage.text[hit.sentence.start - passage.start : hit.sentence.end - passage.start]
            == hit.sentence.text
        )
        assert 0.0 <= hit.overlap <= 1.0
    best = max(retrieval.sentences, key=lambda hit: hit.overlap)
    assert best.sentence.text.startswith("Shepherds drive their sheep")


def test_a_scoped_question_sees_only_its_article(retriever) -> None:
    retrieval = retriever.retrieve("When was the harbour of Zorvik rebuilt?", source="mountain.txt")
    assert {hit.passage.source for hit in retrieval.passages} == {"mountain.txt"}
    assert "zorvik" in retrieval.unknown and "Zorvik".lower() in retrieval.unknown_words


def test_an_unknown_source_names_the_known_ones(retriever) -> None:
    with pytest.raises(
        UnknownSource,
        match=r"No article named 'nope.txt' in the index; use "
        r"one of: harbour.txt, mountain.txt\.",
    ):
        retriever.retrieve("Anything?", source="nope.txt")


def test_words_the_corpus_never_uses_are_unknown(retriever) -> None:
    retrieval = retriever.retrieve("Who painted the harbour of Zorvik purple?")
    assert retrieval.unknown_words == {"painted", "purple"}
    assert "harbour" not in retrieval.unknown_words


def test_rarer_words_weigh_more_and_a_followup_leans_on_its_question(retriever) -> None:
    asked = retriever.lexicon.weighted_terms(
        "When did it happen?", "Who rebuilt the harbour of Zorvik?"
    )
    assert asked["zorvik"] == pytest.approx(FOLLOWUP_WEIGHT * retriever.lexicon.idf["zorvik"])
    assert (
        retriever.lexicon.idf["herring"] > retriever.lexicon.idf["zorvik"]
    )  # in one sentence, not two


def test_reciprocal_rank_fusion_adds_the_rankings() -> None:
    fused = _rank_fusion(np.array([0.9, 0.1, 0.5]), np.array([0.0, 3.0, 2.0]))
    first, second, third = 1 / (RRF_K + 1), 1 / (RRF_K + 2), 1 / (RRF_K + 3)
    assert fused.tolist() == pytest.approx([first + third, third + first, second + second])


def test_each_sentence_is_read_piece_by_piece_once_and_compared_with_the_question(
    retriever, monkeypatch
) -> None:
    encoded: list[str] = []
    embedder = retriever.embedder
    original = embedder.encode_tokens

    def counting(texts):  # type: ignore[no-untyped-def]
        encoded.extend(texts)
        return original(texts)

    fresh = Retriever(retriever.stored, embedder)
    monkeypatch.setattr(embedder, "encode_tokens", counting)
    first = fresh.retrieve("Where do fishermen land herring?")
    sentences = len(encoded) - 1
    again = fresh.retrieve("Where do fishermen land cod?")
    assert sentences == len(first.sentences) and encoded[-1] == "Where do fishermen land cod?"
    assert len(encoded) == sentences + 2  # the second question's sentences were kept
    fishermen = next(s for s in again.sentences if "Fishermen" in s.sentence.text)
    # fishermen, land, cod: each piece is in the sentence (the hashing embedder's exact match)
    assert fishermen.piece_match == (1.0, 1.0, 1.0)
    harbour = next(s for s in again.sentences if "harbour" in s.sentence.text)
    assert harbour.piece_match == (0.0, 0.0, 0.0)


def test_a_follow_up_naming_nothing_is_read_with_the_pieces_of_the_question_it_follows(
    retriever,
) -> None:
    alone = retriever.retrieve("Why didn't they?")  # "didn" is no content piece
    assert all(s.piece_match == () for s in alone.sentences)
    followed = retriever.retrieve("Why didn't they?", previous="Where do fishermen land cod?")
    fishermen = next(s for s in followed.sentences if "Fishermen" in s.sentence.text)
    assert fishermen.piece_match == (1.0, 1.0, 1.0)
