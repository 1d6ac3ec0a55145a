"""Grounding on the real article: each rule, with a question that gets a wrong answer without it."""

import json

import pytest

from qa_bot.answer.bot import QABot
from qa_bot.answer.compose import DECLINE, absent_names, compose_answer, score_sentences
from qa_bot.answer.grounding import NAMED_TIMES, Evidence, ground, holds_amount
from qa_bot.answer.phrases import read_for_phrases, sentence_phrase_features
from qa_bot.answer.question import Turn
from qa_bot.config import bundled_model_path
from qa_bot.indexing.build import build_index
from qa_bot.ingest.annotation import Phrase
from tests.support import read_jsonl, shared_file


def test_a_number_question_needs_a_number_in_the_quoted_sentence(bot) -> None:
    # The recruitment sentence is the topical match, but it holds no number.
    answer = bot.ask("How many Russian citizens have been recruited?")
    assert not answer.answered and answer.citations == ()


def test_a_thing_the_article_never_mentions_is_not_answered(bot) -> None:
    answer = bot.ask("How many helicopters did Russia lose in Kursk?")
    assert not answer.answered
    assert answer.related, "a decline offers the closest passages as related reading"
    assert all(r.quote == "" and r.quote_spans == () for r in answer.related)


def test_a_name_the_article_never_mentions_is_named_in_the_decline(bot) -> None:
    answer = bot.ask("What did the White House say about the North Korean soldiers?")
    assert not answer.answered
    assert "“White House”" in answer.answer


def test_a_word_close_in_meaning_does_not_stand_for_a_name(bot) -> None:
    # "NATO" has a close word in the article, but the article never names NATO.
    _, retrieval, _ = bot.ask_with_evidence("What did NATO say about the North Korean soldiers?")
    assert "nato" in retrieval.unseen_words
    assert absent_names("What did NATO say about the North Korean soldiers?", retrieval) == ["NATO"]


def test_a_follow_up_is_grounded_with_the_question_it_follows(bot) -> None:
    history = [
        Turn("user", "How many North Korean special forces arrived in Vladivostok?"),
        Turn("assistant", "Around 1,500. [1]"),
    ]
    answer = bot.ask("When did they arrive?", history)
    assert answer.answered and answer.short_answer is not None
    assert answer.short_answer.text == "October 2024"


def test_the_headline_is_never_quoted_as_an_answer(bot) -> None:
    # Kim Jong-un is named in the headline and once in the text, which does not say either.
    for question in ("Where was Kim Jong-un educated?", "What is Kim Jong-un's gamble?"):
        answer = bot.ask(question)
        assert "A Strategic Gamble" not in answer.answer + "".join(
            c.quote for c in answer.citations
        )


def test_the_headline_is_given_only_when_it_is_the_documents_and_one_is_meant(
    tmp_path, embedder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ferry.txt").write_text(
        "Ferry fares rise\nThe ferry fare rose on Monday, the harbour board said.\n",
        encoding="utf-8",
    )
    (corpus / "bridge.txt").write_text(
        "Bridge reopens\nThe bridge reopened on Tuesday after repairs.\n", encoding="utf-8"
    )
    (corpus / "shares.html").write_text(  # its title is in its metadata; its first line is not
        "<html><head><title>Tech shares tumble as rates rise</title></head><body><article>"
        "<p>Photo: Reuters</p><p>Technology shares fell sharply on Monday after the central "
        "bank raised interest rates for the third time this year.</p><p>Analysts expect "
        "further falls this week as investors move to bonds.</p></article></body></html>",
        encoding="utf-8",
    )
    build_index(corpus, tmp_path / "index", bundled_model_path(), embedder=embedder)
    bot = QABot(tmp_path / "index", embedder)
    assert bot.ask("What is the headline?", source="bridge.txt").answer == "Bridge reopens [1]"
    assert bot.ask("What is the headline?").confidence < 1.0  # of which article?
    credit = bot.ask("What is the title of the article?", source="shares.html")
    assert "Photo: Reuters" not in credit.answer or credit.confidence < 1.0


def test_the_headline_of_a_long_article_is_found_too(tmp_path, embedder) -> None:
    path = shared_file("squad2-normans.json")
    squad = json.loads(path.read_text(encoding="utf-8"))
    paragraphs = [p["context"] for article in squad["data"] for p in article["paragraphs"]]
    corpus = tmp_path / "corpus"
    corpus.mkdir()  # 44 passages: the first, the headline's, resembles the question no more
    (corpus / "normans.txt").write_text(
        "How Norse raiders became Norman rulers\n\n" + "\n\n".join(paragraphs) + "\n",
        encoding="utf-8",
    )
    build_index(corpus, tmp_path / "index", bundled_model_path(), embedder=embedder)
    bot = QABot(tmp_path / "index", embedder)
    for question in ("What is the title of the article?", "What is the headline?"):
        assert bot.ask(question).answer == "How Norse raiders became Norman rulers [1]"


@pytest.mark.parametrize("question", ["🙂🙂", "???", "%", "- - -"])
def test_a_question_without_a_word_is_declined(bot, question) -> None:
    answer = bot.ask(question)
    assert not answer.answered and answer.confidence == 0.0


@pytest.mark.parametrize("question", ["What is the headline?", "What is the title of the article?"])
def test_a_question_asking_for_the_headline_is_answered_by_it(bot, question) -> None:
    answer = bot.ask(question)
    headline = (
        "North Korea's Military Involvement in Ukraine: A Strategic Gamble for Both Kim "
        "Jong-un and Vladimir Putin"
    )
    assert answer.answered and answer.confidence == 1.0 and answer.short_answer is None
    assert answer.answer == headline + " [1]" and answer.citations[0].quote == headline


@pytest.mark.parametrize(
    "question, short",
    [
        ("How many North Korean special forces arrived in Vladivostok?", "around 1,500"),
        ("How many soldiers joined the special forces later?", "10,000"),
        (
            "What percentage of the North Korean soldiers had suffered casualties by mid-January?",
            "over 40%",
        ),
        ("When did Ukraine conduct its incursion into Kursk?", "August 2024"),
        ("Who reported the planned new deployment?", "USAZINE"),
    ],
)
def test_short_answers_are_exact_phrases_of_the_quoted_sentence(
    bot, article_index, question, short
) -> None:
    answer = bot.ask(question)
    assert answer.short_answer is not None and answer.short_answer.text == short
    source = (article_index.parent / "corpus" / answer.short_answer.source).read_text(
        encoding="utf-8"
    )
    assert source[answer.short_answer.start : answer.short_answer.end] == short
    assert any(
        start <= answer.short_answer.start and answer.short_answer.end <= end
        for c in answer.citations
        for start, end in c.quote_spans
    )


def test_each_sentence_is_compared_in_meaning_with_each_word_of_the_question(bot) -> None:
    question = "How many North Korean officers have defected?"
    _, retrieval, _ = bot.ask_with_evidence(question)
    assert {"offic", "defect", "korean", "north"} <= set(retrieval.compared)
    assert "mani" not in retrieval.compared  # "how many" asks; it says nothing
    for sentence in retrieval.sentences:
        match = dict(zip(retrieval.compared, sentence.word_match))
        if "Korean" in sentence.sentence.text:
            assert match["korean"] == 1.0  # the word itself
        # The article never speaks of officers or defection: no word of it comes close.
        assert match["defect"] < 0.6 and match["offic"] < 0.6
        assert sentence.noun_match is not None and sentence.noun_match < 0.6


def test_words_are_also_compared_in_context_word_piece_by_word_piece(bot) -> None:
    # "visited" comes close to nothing in a sentence about sending troops, read in context;
    # "Vladivostok" and "arrived" are found in the sentence that reports the arrival.
    _, retrieval, _ = bot.ask_with_evidence("Has Kim Jong-un visited his troops in Russia?")
    assert all(s.piece_match and min(s.piece_match) < 0.5 for s in retrieval.sentences)
    _, retrieval, _ = bot.ask_with_evidence("How many special forces arrived in Vladivostok?")
    arrival = next(s for s in retrieval.sentences if "Vladivostok" in s.sentence.text)
    assert len(arrival.piece_match) == 4  # special, forces, arrived, vlad(ivostok)
    assert min(arrival.piece_match) > 0.8


def test_a_question_whose_words_the_sentence_holds_in_context_is_answered(bot) -> None:
    # Few of its words are the sentence's own, but each comes close to one in context: with
    # the piece-by-piece comparison at weight zero this is declined (confidence 0.36).
    answer = bot.ask("What could change the geopolitical landscape, according to the article?")
    assert answer.answered and "Donald Trump" in answer.answer


def grounded(bot, question: str) -> list[Evidence]:  # type: ignore[no-untyped-def]
    """The grounding evidence of each candidate sentence for `question`."""
    _, retrieval, _ = bot.ask_with_evidence(question)
    return ground(question, retrieval, retrieval.sentences)


def test_what_someone_said_is_answered_only_by_a_sentence_reporting_a_statement(bot) -> None:
    evidence = grounded(bot, "What has Donald Trump said about the North Korean troops?")
    assert [
        e.statement_missing
        for e in evidence
        if e.candidate.sentence.text.startswith("The situation presents")
    ] == [True]
    # A sentence reporting a statement can answer: "As reported by USAZINE, ...".
    evidence = grounded(bot, "What did USAZINE report about a new deployment?")
    assert [e.statement_missing for e in evidence if "USAZINE" in e.candidate.sentence.text] == [
        False
    ]


def test_a_question_about_what_is_to_come_is_not_answered_by_a_sentence_of_the_past(bot) -> None:
    # Without the rule this quotes "By early December, it became apparent that North Korean
    # soldiers were actively engaged in combat ..." (0.47).
    answer = bot.ask("When will the next group of North Korean soldiers leave for Russia?")
    assert not answer.answered and answer.confidence == 0.0
    # A sentence that speaks of what is to come may answer: "North Korea appears poised to
    # deploy another contingent of soldiers ...".
    evidence = grounded(bot, "Where will the next group of North Korean soldiers be sent?")
    assert [
        e.future_missing for e in evidence if "poised to deploy" in e.candidate.sentence.text
    ] == [False]
    assert any(e.future_missing for e in evidence)


def test_an_amount_spacy_leaves_unlabelled_still_counts_for_the_rule() -> None:
    # spaCy's small pipeline labels neither "seven" in "at age seven" nor the years of
    # "(r. 1521–1567)": the rule declined both right sentences.
    assert holds_amount("number", "She won a school talent show at age seven.")
    assert holds_amount("date", "During the reign of the Jiajing Emperor (r. 1521–1567), ...")
    assert not holds_amount("number", "It was one of the reasons, in August 2024.")
    assert not holds_amount("date", "The deal gave Halvorsen 40 percent of the market.")
    assert not holds_amount("date", "Around 1,500 special forces arrived for $2000 each.")
    assert holds_amount("date", "It was popular in the 1990s.")


def test_how_many_times_is_held_to_the_amount_rule() -> None:
    # "Time" may name a period ("what time"), but "how many times" asks for a number.
    reading = read_for_phrases("How many times did the leaders meet?")
    assert reading.kind == "number" and reading.noun not in NAMED_TIMES


def test_a_time_asked_for_by_name_is_not_held_to_the_date_rule(tmp_path, embedder) -> None:
    # "What era" is answered by "the Romantic era", which is no date.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "chopin.txt").write_text(
        "Chopin was a Polish composer and virtuoso pianist. His music belongs to the Romantic "
        "era and remains popular.\n",
        encoding="utf-8",
    )
    build_index(corpus, tmp_path / "index", bundled_model_path(), embedder=embedder)
    question = "Chopin's music belongs to what era?"
    _, retrieval, _ = QABot(tmp_path / "index", embedder).ask_with_evidence(question)
    best = score_sentences(question, retrieval)[0].evidence
    assert "Romantic" in best.candidate.sentence.text
    assert best.kind == "date" and best.type_missing and not best.amount_missing


def test_a_question_about_what_no_sentence_comes_close_to_is_declined(bot) -> None:
    # The top sentence is on North Korean soldiers and holds a number, but nothing in it comes
    # close to officers or defecting.
    answer = bot.ask("How many North Korean officers have defected?")
    assert not answer.answered


def test_a_name_typed_without_its_accents_is_a_name_the_article_uses(tmp_path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "herve.txt").write_text(
        "Hervé served as a Byzantine general in 1050. He later rebelled against the emperor.\n",
        encoding="utf-8",
    )
    build_index(corpus, tmp_path / "index", bundled_model_path(), embedder=embedder)
    _, retrieval, _ = QABot(tmp_path / "index", embedder).ask_with_evidence(
        "When did Herve serve as a Byzantine general?"
    )
    assert "herve" not in retrieval.unseen_words and not retrieval.unknown


def test_a_person_of_a_place_is_one_name(tmp_path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "barbastro.txt").write_text(
        "In 1064 the papal army in the War of Barbastro was led by William of Montreuil. The "
        "town fell after a siege of forty days.\n",
        encoding="utf-8",
    )
    build_index(corpus, tmp_path / "index", bundled_model_path(), embedder=embedder)
    answer = QABot(tmp_path / "index", embedder).ask("Who led the papal army at Barbastro?")
    assert answer.short_answer is not None
    assert answer.short_answer.text == "William of Montreuil"


def short_answer_about(
    text: str,
    question: str,
    tmp_path,  # type: ignore[no-untyped-def]
    embedder,
) -> tuple[str, str | None]:
    """The sentences an answer would quote from a corpus of one text, and its short answer,
    whatever the confidence."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "story.txt").write_text(text, encoding="utf-8")
    build_index(corpus, tmp_path / "index", bundled_model_path(), embedder=embedder)
    bot = QABot(tmp_path / "index", embedder)
    _, retrieval, read = bot.ask_with_evidence(question)
    answer = compose_answer(question, retrieval, read, bot.reader.calibration, decline_below=0.0)
    quoted = " ".join(c.quote for c in answer.citations)
    return quoted, answer.short_answer and answer.short_answer.text


def test_a_name_right_after_the_asked_noun_names_it(tmp_path, embedder) -> None:
    _, short = short_answer_about(
        "The area corresponded to the northern part of present-day "
        "Upper Normandy down to the river Seine.\n",
        "What river bounded the area?",
        tmp_path,
        embedder,
    )
    assert short == "Seine"


def test_who_was_the_x_asks_about_x() -> None:
    assert read_for_phrases("Who was the Norse leader?").noun == "leader"
    assert read_for_phrases("Who was Margaret's brother?").noun == "brother"
    assert read_for_phrases("Who is the mayor of Eastfield?").noun == "mayor"
    assert read_for_phrases("Who was Rollo?").noun is None


def test_the_leader_named_after_the_word_leader_is_the_answer(tmp_path, embedder) -> None:
    _, short = short_answer_about(
        'They were descended from Norse ("Norman" comes from '
        '"Norseman") raiders and pirates from Denmark, Iceland and '
        "Norway who, under their leader Rollo, agreed to swear fealty "
        "to King Charles III of West Francia.\n",
        "Who was the Norse leader?",
        tmp_path,
        embedder,
    )
    assert short == "Rollo"


def test_british_and_american_spellings_are_one_word_to_the_phrase_model() -> None:
    assert (
        read_for_phrases("Who patronised the monks?").stems
        == read_for_phrases("Who patronized the monks?").stems
    )


def test_quotes_are_verbatim_where_sentences_are_split_by_a_newline(tmp_path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = (
        "Harbour news\n\nThe ferry to Lindholm carried 412 passengers on Sunday.\nIt left "
        "the harbour at noon and reached the island two hours later.\n\nThe ferry company "
        "plans a second boat for the summer season.\n"
    )
    (corpus / "ferry.txt").write_text(text, encoding="utf-8")
    build_index(corpus, tmp_path / "index", bundled_model_path(), embedder=embedder)
    bot = QABot(tmp_path / "index", embedder)
    for question in (
        "How many passengers did the ferry to Lindholm carry and when did it leave the harbour?",
        "When did the Lindholm ferry leave the harbour?",
    ):
        answer = bot.ask(question)
        for citation in answer.citations:
            assert citation.quote in text
            for start, end in citation.quote_spans:
                assert text[start:end] in citation.quote


def test_most_on_topic_questions_the_article_does_not_answer_are_declined(bot) -> None:
    questions = [case["q"] for case in read_jsonl(shared_file("article-unanswerable.jsonl"))]
    declined = [q for q in questions if not bot.ask(q).answered]
    # 10 of 12 today, the target of 80%. The two still answered quote a sentence on
    # the subject that holds the kind of phrase asked for (BENCHMARKS.md, C).
    assert len(declined) >= 10, set(questions) - set(declined)


def test_the_decline_is_polite_and_plain(bot) -> None:
    answer = bot.ask("What is the boiling point of water at sea level?")
    assert answer.answer == DECLINE and answer.short_answer is None
    # A name the article never uses is named, whether or not a word of it comes close.
    assert "“France”" in bot.ask("What is the capital of France?").answer


def test_the_phrase_model_reads_the_preposition_before_a_phrase_and_whether_it_modifies_one() -> (
    None
):
    sentence = "King Malcolm III of Scotland praised Norman art, patronised by Robert Guiscard."
    spans = {
        "King Malcolm III": "PERSON",
        "King Malcolm III of Scotland": "NP",
        "Norman": "NORP",
        "Norman art": "NP",
        "Robert Guiscard": "PERSON",
    }
    phrases = [
        Phrase(sentence.index(text), sentence.index(text) + len(text), label)
        for text, label in spans.items()
    ]
    rows = dict(
        zip(
            spans,
            sentence_phrase_features(
                read_for_phrases("Who patronized the king?"),
                sentence,
                0,
                phrases,
                list(spans),
                False,
                phrases,
            ),
        )
    )
    assert rows["Norman"]["modifier"] == 1.0 and rows["Norman art"]["modifier"] == 0.0
    assert rows["King Malcolm III"]["modifier"] == 0.0  # the head of "... of Scotland"
    assert rows["Robert Guiscard"]["person|after by"] == 1.0
    assert rows["Robert Guiscard"]["neighbour"] == 0.0


def test_the_phrase_model_counts_the_question_words_right_around_a_phrase() -> None:
    # "gave a tribute award to" Michael Jackson: the question's words stand right before it.
    sentence = "In 2006 Beyoncé gave a tribute award to Michael Jackson at the ceremony."
    spans = {"2006": "DATE", "Beyoncé": "PERSON", "Michael Jackson": "PERSON"}
    phrases = [
        Phrase(sentence.index(text), sentence.index(text) + len(text), label)
        for text, label in spans.items()
    ]
    rows = dict(
        zip(
            spans,
            sentence_phrase_features(
                read_for_phrases("Beyonce gave a tribute award to whom?"),
                sentence,
                0,
                phrases,
                list(spans),
                False,
                phrases,
            ),
        )
    )
    assert rows["Michael Jackson"]["asked before=2"] == 1.0
    assert rows["Michael Jackson"]["asked after=0"] == 1.0
    assert rows["2006"]["asked after=2"] == 1.0  # "Beyoncé gave", though spelt "Beyonce"
    # How close all the question's words stand: "Beyoncé" 6 words away, "gave" 5, "tribute"
    # 3, "award" 2.
    assert rows["Michael Jackson"]["closeness"] == pytest.approx(1 / 7 + 1 / 6 + 1 / 4 + 1 / 3)


def test_a_name_the_question_spells_without_accents_is_what_it_already_says() -> None:
    assert (
        read_for_phrases("Who did Beyonce thank?").stems
        == read_for_phrases("Who did Beyoncé thank?").stems
    )


def test_a_place_and_the_region_it_is_in_are_one_answer(tmp_path, embedder) -> None:
    _, short = short_answer_about(
        "The first solar thermal power station was built at Maadi, Egypt, in 1913.\n",
        "Where was the first solar power station built?",
        tmp_path,
        embedder,
    )
    assert short == "Maadi, Egypt"


def test_a_range_of_numbers_is_one_answer(tmp_path, embedder) -> None:
    _, short = short_answer_about(
        "Officials said 3,000 to 5,000 residents were killed in the county.\n",
        "How many residents were killed?",
        tmp_path,
        embedder,
    )
    assert short == "3,000 to 5,000"


def test_names_joined_by_a_hyphen_in_the_question_are_what_it_already_says(
    tmp_path, embedder
) -> None:
    assert {"korea", "russia"} <= read_for_phrases(
        "Why is the North Korea-Russia partnership close?"
    ).stems
    _, short = short_answer_about(
        "Analysts say the partnership of North Korea and Russia rests on shared economic needs.\n",
        "What does the North Korea-Russia partnership rest on?",
        tmp_path,
        embedder,
    )
    assert short == "shared economic needs"


def test_what_is_the_name_of_the_x_asks_for_a_name_of_an_x() -> None:
    reading = read_for_phrases("What was the name of the count of Apulia?")
    assert (reading.kind, reading.noun) == ("name", "count")
    assert read_for_phrases("What was the count's name?").kind == "what"
    assert read_for_phrases("What is the new bridge called?").kind == "name"
    assert read_for_phrases("What is the new bridge made of?").kind == "what"
    assert read_for_phrases("What was the name of it?").kind == "what"  # names no noun


def test_a_follow_up_asking_the_name_of_it_is_answered_or_declined_not_failed(bot) -> None:
    history = [Turn("user", "Which Russian region did Ukraine enter in August 2024?")]
    assert bot.ask("What was the name of it?", history).answer


def test_a_place_keeps_the_part_of_it_the_sentence_names(tmp_path, embedder) -> None:
    _, short = short_answer_about(
        "After the raid of 1602 the villagers escaped to northern Spain by boat.\n",
        "Where did the villagers escape to?",
        tmp_path,
        embedder,
    )
    assert short == "northern Spain"


def test_the_phrase_model_reads_a_possessive_and_a_description_beside_a_phrase() -> None:
    sentence = (
        "Walter Cunningham's lunch was forgotten, and Calpurnia, their cook, scolded a "
        "local couple, the Canuts."
    )
    spans = {"Walter Cunningham": "PERSON", "Calpurnia": "PERSON", "Canuts": "NAME"}
    phrases = [
        Phrase(sentence.index(text), sentence.index(text) + len(text), label)
        for text, label in spans.items()
    ]
    rows = dict(
        zip(
            spans,
            sentence_phrase_features(
                read_for_phrases("Who did the cooking?"),
                sentence,
                0,
                phrases,
                list(spans),
                False,
                phrases,
            ),
        )
    )
    assert rows["Walter Cunningham"]["possessive"] == 1.0
    assert rows["Calpurnia"]["described"] == 1.0 and rows["Calpurnia"]["possessive"] == 0.0
    assert rows["Canuts"]["apposed"] == 1.0 and rows["Calpurnia"]["apposed"] == 0.0


def test_the_phrase_model_reads_whether_punctuation_parts_a_phrase_from_the_question_words() -> (
    None
):
    sentence = "Henry Roussel directed the film, and Pierre Blanchar played Chopin in it."
    spans = {"Henry Roussel": "PERSON", "Pierre Blanchar": "PERSON"}
    phrases = [
        Phrase(sentence.index(text), sentence.index(text) + len(text), label)
        for text, label in spans.items()
    ]
    rows = dict(
        zip(
            spans,
            sentence_phrase_features(
                read_for_phrases("Who played Chopin?"),
                sentence,
                0,
                phrases,
                list(spans),
                False,
                phrases,
            ),
        )
    )
    assert rows["Pierre Blanchar"]["parted"] == 0.0
    assert rows["Henry Roussel"]["person|parted"] == 1.0


def test_a_number_keeps_the_unit_of_measure_after_it(tmp_path, embedder) -> None:
    _, short = short_answer_about(
        "Forecasters said 95 millimetres of rain fell on the valley overnight.\n",
        "How much rain fell on the valley?",
        tmp_path,
        embedder,
    )
    assert short == "95 millimetres"
