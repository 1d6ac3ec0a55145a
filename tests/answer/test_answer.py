"""Answer quality on the real article: most examples answered, none wrongly; off-topic declined."""

import re

import pytest

from qa_bot.answer.bot import QABot
from qa_bot.answer.compose import DECLINE, compose_answer
from qa_bot.answer.question import Turn
from qa_bot.config import bundled_model_path
from qa_bot.indexing.build import build_index
from tests.support import SHARED_DATA, read_jsonl

ARTICLE_QUESTIONS = [
    ("Which Russian region did Ukraine enter in August 2024?", "Kursk"),
    ("How many North Korean special forces reached Vladivostok in October 2024?", "1,500"),
    ("How many more soldiers followed the special forces?", "10,000"),
    ("What percentage of the North Korean troops were casualties by mid-January?", "40%"),
    ("Who reported the planned new deployment?", "USAZINE"),
    ("Where do North Korean soldiers normally patrol?", "demilitarized zone"),
    # Rephrasings that are not in the shared examples.
    ("When did the special forces get to Vladivostok?", "October 2024"),
    ("How far were the extra troops transported?", "7,000 kilometers"),
    ("Which country's intelligence tracked the North Korean arrivals?", "South Korea"),
    ("How long since North Korean soldiers last saw combat?", "70 years"),
    ("According to whom is North Korea sending more soldiers?", "USAZINE"),
    ("Why are North Korean troops suffering such heavy losses?", "inexperience"),
]
OFF_TOPIC = [
    "What is the capital of France?",
    "Who won the 2018 World Cup?",
    "How do I bake sourdough bread?",
    "What is the speed of light?",
]


def shared_cases() -> list[tuple[str, str]]:
    path = SHARED_DATA / "article-questions.jsonl"
    if not path.exists():
        return []
    return [(case["q"], answer) for case in read_jsonl(path) for answer in case["answers"][:1]]


def test_most_questions_the_article_answers_are_answered_and_none_wrongly(bot) -> None:
    # Measured with the shipped reader: 19 of 22 right, 1 wrong ("What experience does North
    # Korea gain from the war?" quotes Putin's gain), 2 declined (BENCHMARKS.md, C3).
    cases = ARTICLE_QUESTIONS + shared_cases()
    answers = [(bot.ask(question), expected) for question, expected in cases]
    right = [a for a, expected in answers if a.answered and expected in a.answer]
    wrong = [a for a, expected in answers if a.answered and expected not in a.answer]
    assert len(right) >= 0.85 * len(cases) and len(wrong) <= 0.05 * len(cases)
    assert all(a.confidence >= bot.reader.calibration.decline_below for a in right)


def shared_off_topic() -> list[str]:
    path = SHARED_DATA / "article-offtopic.jsonl"
    return [case["q"] for case in read_jsonl(path)] if path.exists() else []


@pytest.mark.parametrize("question", OFF_TOPIC + shared_off_topic())
def test_questions_the_article_cannot_answer_are_declined(bot, question) -> None:
    answer = bot.ask(question)
    assert not answer.answered
    # The plain decline, or one naming what the article never mentions ("Mona Lisa").
    assert answer.answer == DECLINE or re.fullmatch(
        r"The article doesn't mention “[^”]+”(, “[^”]+”)*( or “[^”]+”)?, so I can't answer "
        r"that\. The passages below are the closest it comes\.",
        answer.answer,
    )
    assert answer.citations == ()
    assert answer.confidence < bot.reader.calibration.decline_below


def test_answer_sentences_are_verbatim_with_numbered_citations(bot, article_index) -> None:
    answer = bot.ask("What does Putin gain from the North Korean soldiers?")
    source_text = (article_index.parent / "corpus" / answer.citations[0].source).read_text(
        encoding="utf-8"
    )
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]
    assert (
        sorted(set(markers))
        == [c.n for c in answer.citations]
        == list(range(1, len(answer.citations) + 1))
    )
    assert markers[0] == 1  # numbered in order of first use
    for citation in answer.citations:
        assert source_text[citation.start : citation.end] == citation.text
        for quote in citation.quote.split(" … "):
            assert quote in citation.text
            assert quote in answer.answer
    # Nothing but quotes and markers: removing both leaves only spaces.
    rest = answer.answer
    for citation in answer.citations:
        for quote in citation.quote.split(" … "):
            rest = rest.replace(quote, "")
    assert re.sub(r"\[\d+\]", "", rest).strip() == ""


def test_a_sentence_that_answers_alone_is_quoted_alone(bot) -> None:
    one = bot.ask("How many North Korean special forces arrived in Vladivostok?")
    assert [len(c.quote_spans) for c in one.citations] == [1]


def test_follow_up_questions_are_read_with_the_conversation(bot) -> None:
    history = [
        Turn("user", "How many North Korean special forces arrived in Vladivostok?"),
        Turn("assistant", "…around 1,500 North Korean special forces … [1]"),
    ]
    assert "October 2024" in bot.ask("When did they arrive?", history).answer
    assert "October 2024" in bot.ask("When?", history).answer
    # Without the conversation, "When?" asks nothing the article can answer.
    assert not bot.ask("When?").answered


def test_a_follow_up_with_no_words_of_its_own_is_not_declined(bot) -> None:
    history = [
        Turn("user", "What percentage of the North Korean troops were casualties by mid-January?")
    ]
    answer = bot.ask("By when?", history)
    assert answer.answered and "mid-January" in answer.answer


def test_a_number_the_article_does_not_have_means_decline(bot) -> None:
    # Close to the article's topic, but about a year the article never mentions.
    answer = bot.ask("How many North Korean soldiers arrived in Vladivostok in 1995?")
    assert not answer.answered
    assert answer.confidence == 0.0


def test_a_number_written_another_way_is_still_the_articles(bot) -> None:
    # The article writes "1,500": matching the question's text, "1500" was not found and the
    # question declined.
    question = "How many more soldiers followed the 1500 special forces?"
    _, retrieval, read = bot.ask_with_evidence(question)
    answer = compose_answer(question, retrieval, read, bot.reader.calibration, decline_below=0.0)
    assert answer.confidence > 0.0 and "10,000" in answer.answer


def test_questions_can_be_limited_to_one_source(bot) -> None:
    answer = bot.ask("Where did the special forces train?", source="north-korea-troops-ukraine.txt")
    assert {c.source for c in answer.citations} == {"north-korea-troops-ukraine.txt"}


def test_large_corpora_score_only_the_likeliest_passages_with_the_same_answers(
    bot, monkeypatch
) -> None:
    # Beyond EXACT_SENTENCE_LIMIT sentences, FAISS and BM25 pick the passages to score.
    questions = [question for question, _ in ARTICLE_QUESTIONS[:6]]

    def answers() -> list[str]:  # afresh: not the cache's
        return [bot.answer_afresh(question, (), None)[1].answer for question in questions]

    exact = answers()
    monkeypatch.setattr("qa_bot.answer.retrieval.EXACT_SENTENCE_LIMIT", 0)
    monkeypatch.setattr("qa_bot.answer.retrieval.CANDIDATE_PASSAGES", 4)  # of 7
    assert answers() == exact


def test_the_same_sentence_in_two_articles_is_quoted_once(tmp_path, embedder) -> None:
    # A story and its update: the runner-up is the best sentence's words again.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sentence = "The council approved a 14-million-euro flood wall for Low Town on Monday."
    (corpus / "story.txt").write_text(
        f"Flood wall plans approved\n\n{sentence} Work is due to "
        "start in the autumn and last two years.\n"
    )
    (corpus / "update.txt").write_text(
        f"Flood wall plans approved (updated)\n\n{sentence} "
        "Residents had asked for the wall since the floods of "
        "2019.\n"
    )
    build_index(corpus, tmp_path / "index", bundled_model_path(), embedder=embedder)
    answer = QABot(tmp_path / "index", embedder).ask("How much will the flood wall cost?")
    assert answer.answered and answer.answer.count(sentence) == 1
