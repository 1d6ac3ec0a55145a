"""What spaCy notes of each sentence at build time: answer phrases with exact spans, headlines."""

from qa_bot.ingest.annotation import annotate, headline_span
from qa_bot.ingest.chunking import ChunkingSettings, chunk_document
from tests.support import ARTICLE


def notes_of(text: str):  # type: ignore[no-untyped-def]
    passages = chunk_document("a.txt", text, ChunkingSettings())
    return [
        (s, n)
        for p, group in zip(passages, annotate(text, passages))
        for s, n in zip(p.sentences, group)
    ]


def test_amounts_take_in_their_approximation_words_and_spans_slice_the_text() -> None:
    text = ARTICLE.read_text(encoding="utf-8")
    phrases = {text[p.start : p.end]: p.label for _, n in notes_of(text) for p in n.phrases}
    assert phrases["around 1,500"] == "CARDINAL"
    assert phrases["October 2024"] == "DATE"
    assert "USAZINE" in phrases  # a proper noun spaCy's NER leaves unlabelled becomes a NAME
    assert phrases["a bold incursion"] == "NP"  # a noun phrase that is no entity


def test_a_number_spacy_does_not_label_is_still_a_number_phrase() -> None:
    text = "Form A-38 must be filed.\n"
    phrases = {text[p.start : p.end]: p.label for _, n in notes_of(text) for p in n.phrases}
    assert phrases["A-38"] == "CARDINAL"  # the whole word, not just its digits


def test_pronouns_are_not_noted_as_noun_phrases() -> None:
    text = "The soldiers arrived in October. They trained for weeks.\n"
    phrases = {text[p.start : p.end] for _, n in notes_of(text) for p in n.phrases}
    assert "They" not in phrases and "The soldiers" in phrases


def test_a_headline_and_a_tag_line_are_not_prose() -> None:
    text = ARTICLE.read_text(encoding="utf-8")
    notes = notes_of(text)
    assert not notes[0][1].is_prose and notes[0][0].text.startswith("North Korea's Military")
    assert not notes[-1][1].is_prose and notes[-1][0].text == "#WorldNews #Politics"
    assert all(n.is_prose for _, n in notes[1:-1])


def test_a_first_paragraph_that_reads_as_prose_is_no_headline() -> None:
    assert headline_span("The river rose by two metres overnight.\n\nMore text.\n") is None
    assert headline_span("# Flood in Eastfield\n\nThe river rose.\n") == (0, 20)


def test_two_noun_phrases_joined_by_of_are_one_phrase_too() -> None:
    text = "The most famous work of Norman art is not a tapestry but a work of embroidery.\n"
    phrases = {text[p.start : p.end]: p.label for _, n in notes_of(text) for p in n.phrases}
    assert phrases["a work of embroidery"] == "NP" and phrases["a work"] == "NP"
    assert phrases["The most famous work of Norman art"] == "NP"
