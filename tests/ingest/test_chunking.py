from qa_bot.ingest.chunking import (
    ChunkingSettings,
    chunk_document,
    paragraph_spans,
    split_sentences,
)
from tests.support import ARTICLE, SHARED_DATA, word_pieces

SETTINGS = ChunkingSettings()


def assert_exact_spans(text: str, passages: list) -> None:
    for passage in passages:
        assert text[passage.start : passage.end] == passage.text
        for sentence in passage.sentences:
            assert text[sentence.start : sentence.end] == sentence.text
            assert passage.start <= sentence.start < sentence.end <= passage.end


def test_article_passages_slice_back_to_the_source_text() -> None:
    text = ARTICLE.read_text(encoding="utf-8")
    passages = chunk_document("a.txt", text, SETTINGS)
    assert_exact_spans(text, passages)
    # The title line is merged into the first paragraph, the hashtags into the last.
    assert passages[0].text.startswith("North Korea's Military Involvement")
    assert passages[-1].text.endswith("#WorldNews #Politics")
    assert len(passages) == 7


def test_sentences_keep_abbreviations_numbers_and_names_whole() -> None:
    text = (
        "The U.S. Army sent 1,500 troops to Kim Jong-un's border. Growth was 3.5 percent "
        "in Jan. 2024, said Dr. J. R. Smith. Done!"
    )
    sentences = [s.text for s in split_sentences(text, 0, len(text))]
    assert sentences == [
        "The U.S. Army sent 1,500 troops to Kim Jong-un's border.",
        "Growth was 3.5 percent in Jan. 2024, said Dr. J. R. Smith.",
        "Done!",
    ]


def test_paragraphs_are_lines_or_blank_line_blocks() -> None:
    assert paragraph_spans("one\ntwo\n") == [(0, 3), (4, 7)]
    text = "first line\nwrapped\n\n  second  \n"
    assert [text[s:e] for s, e in paragraph_spans(text)] == ["first line\nwrapped", "second"]


def test_long_paragraphs_split_on_sentences_and_short_ones_merge() -> None:
    sentence = "This sentence has exactly sixty characters in it, no more. "
    text = "Tiny.\n\n" + sentence * 40 + "\n\nAlso tiny."
    passages = chunk_document("x.md", text, ChunkingSettings(min_chars=100, max_chars=500))
    assert_exact_spans(text, passages)
    assert all(p.end - p.start <= 500 for p in passages)
    assert passages[0].text.startswith("Tiny.")
    assert passages[-1].text.endswith("Also tiny.")


def test_a_sentence_longer_than_a_passage_is_cut_at_spaces() -> None:
    text = "word " * 400
    passages = chunk_document("x.txt", text, ChunkingSettings(min_chars=10, max_chars=300))
    assert_exact_spans(text, passages)
    assert all(len(p.text) <= 300 for p in passages)
    assert " ".join(p.text for p in passages).split() == text.split()


def test_no_passage_is_cut_off_by_the_model(embedder) -> None:
    texts = [ARTICLE.read_text(encoding="utf-8")]
    normans = SHARED_DATA / "squad2-normans.txt"
    if normans.exists():
        texts.append(normans.read_text(encoding="utf-8"))
    for text in texts:
        for passage in chunk_document("x", text, SETTINGS):
            assert word_pieces(passage.text) <= embedder.max_tokens
