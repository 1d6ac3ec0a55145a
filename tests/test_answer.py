"""Answer quality on the real article: every example answered, every off-topic declined."""
import re

import pytest

from qa_bot.answer import DECLINE, DECLINE_BELOW, Answer, compose_answer
from qa_bot.bot import QABot
from qa_bot.config import bundled_model_path
from qa_bot.indexing import build_index
from qa_bot.question import Turn

from conftest import SHARED_DATA, read_jsonl

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
OFF_TOPIC = ["What is the capital of France?", "Who won the 2018 World Cup?",
             "How do I bake sourdough bread?", "What is the speed of light?"]


def shared_cases() -> list[tuple[str, str]]:
    path = SHARED_DATA / "article-questions.jsonl"
    if not path.exists():
        return []
    return [(case["q"], answer) for case in read_jsonl(path) for answer in case["answers"][:1]]


@pytest.mark.parametrize("question, expected", ARTICLE_QUESTIONS + shared_cases())
def test_answers_quote_the_article_with_the_answer(bot, question, expected) -> None:
    answer = bot.ask(question)
    assert answer.answered, answer
    assert expected in answer.answer
    assert answer.confidence >= DECLINE_BELOW


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
        r"that\. The passages below are the closest it comes\.", answer.answer)
    assert answer.citations == ()
    assert answer.confidence < DECLINE_BELOW


def test_answer_sentences_are_verbatim_with_numbered_citations(bot, article_index) -> None:
    answer = bot.ask("What does Putin gain from the North Korean soldiers?")
    source_text = (article_index.parent / "corpus" / answer.citations[0].source).read_text(
        encoding="utf-8")
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]
    assert sorted(set(markers)) == [c.n for c in answer.citations] == list(
        range(1, len(answer.citations) + 1))
    assert markers[0] == 1  # numbered in order of first use
    for citation in answer.citations:
        assert source_text[citation.start:citation.end] == citation.text
        for quote in citation.quote.split(" … "):
            assert quote in citation.text
            assert quote in answer.answer
    # Nothing but quotes and markers: removing both leaves only spaces.
    rest = answer.answer
    for citation in answer.citations:
        for quote in citation.quote.split(" … "):
            rest = rest.replace(quote, "")
    assert re.sub(r"\[\d+\]", "", rest).strip() == ""


def test_a_second_sentence_only_when_the_neighbour_scores_close(bot) -> None:
    # The casualty figure's neighbour adds why the losses happened; the 1,500 sentence stands alone.
    one = bot.ask("How many North Korean special forces arrived in Vladivostok?")
    assert [len(c.quote_spans) for c in one.citations] == [1]
    two = bot.ask("Why did North Korean troops suffer heavy losses?")
    assert [len(c.quote_spans) for c in two.citations] == [2]  # one passage: one citation
    assert "40%" in two.answer and "inexperience" in two.answer
    assert two.answer.count("[1]") == 1  # one marker after the run of sentences from it


def test_the_runner_up_is_quoted_too_when_it_scores_almost_as_well(bot) -> None:
    # The best sentence speaks of the losses; the cause is in another passage's sentence, which
    # scores within RUNNER_UP_MARGIN of it.
    answer = bot.ask("What does the article blame for the heavy North Korean losses?")
    assert [c.n for c in answer.citations] == [1, 2]
    assert answer.answer.index("[1]") < answer.answer.index("inexperience")


BRIDGE_CLOSED = ("The old stone bridge over the Wensum river was closed to traffic after the "
                 "storm damaged its piers.")
BRIDGE_REPAIRS = ("Repairs to the bridge will be carried out by Hartley Construction, a family "
                  "firm from Norwich.")
BRIDGE_QUESTION = "Who will repair the stone bridge over the Wensum river?"


def answer_about(text: str, question: str, tmp_path,  # type: ignore[no-untyped-def]
                 embedder) -> Answer:
    """What the bot would say about a corpus of one text, whatever its confidence."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "story.txt").write_text(text, encoding="utf-8")
    build_index(corpus, tmp_path / "index", bundled_model_path(), embedder=embedder)
    _, retrieval = QABot(tmp_path / "index", embedder).ask_with_evidence(question)
    return compose_answer(question, retrieval, decline_below=0.0)


def test_the_best_sentences_passage_comes_first_whatever_the_order_of_the_text(
        tmp_path, embedder) -> None:
    # The runner-up (the repairs) opens the text; the best sentence closes the next paragraph.
    answer = answer_about(
        f"{BRIDGE_REPAIRS} Shops on the high street said trade had fallen since the closure, "
        "and local cafes reported fewer customers on market day.\n\nDrivers were told to use "
        "the ring road instead, and buses were diverted through the town centre for the rest "
        f"of the week. {BRIDGE_CLOSED}\n", BRIDGE_QUESTION, tmp_path, embedder)
    assert answer.answer == f"{BRIDGE_CLOSED} [1] {BRIDGE_REPAIRS} [2]"


def test_sentences_of_one_passage_that_are_not_adjacent_are_parted_by_an_ellipsis(
        tmp_path, embedder) -> None:
    answer = answer_about(f"{BRIDGE_REPAIRS} Shops on the high street said trade had fallen "
                          f"since the closure. {BRIDGE_CLOSED}\n", BRIDGE_QUESTION, tmp_path,
                          embedder)
    assert answer.answer == f"{BRIDGE_REPAIRS} … {BRIDGE_CLOSED} [1]"
    assert answer.citations[0].quote == f"{BRIDGE_REPAIRS} … {BRIDGE_CLOSED}"


def test_follow_up_questions_are_read_with_the_conversation(bot) -> None:
    history = [Turn("user", "How many North Korean special forces arrived in Vladivostok?"),
               Turn("assistant", "…around 1,500 North Korean special forces … [1]")]
    assert "October 2024" in bot.ask("When did they arrive?", history).answer
    assert "October 2024" in bot.ask("When?", history).answer
    # Without the conversation, "When?" asks nothing the article can answer.
    assert not bot.ask("When?").answered


def test_a_follow_up_with_no_words_of_its_own_is_not_declined(bot) -> None:
    history = [Turn("user", "What percentage of the North Korean troops were casualties by "
                            "mid-January?")]
    answer = bot.ask("By when?", history)
    assert answer.answered and "mid-January" in answer.answer


def test_a_chain_of_follow_ups_keeps_the_original_subject(bot) -> None:
    history = [Turn("user", "How many North Korean special forces arrived in Vladivostok?"),
               Turn("user", "When did they arrive?")]
    assert "10,000" in bot.ask("Who joined them later?", history).answer


def test_a_number_the_article_does_not_have_means_decline(bot) -> None:
    # Close to the article's topic, but about a year the article never mentions.
    answer = bot.ask("How many North Korean soldiers arrived in Vladivostok in 1995?")
    assert not answer.answered
    assert answer.confidence == 0.0


def test_a_number_written_another_way_is_still_the_articles(bot) -> None:
    # The article writes "1,500": matching the question's text, "1500" was not found and the
    # question declined.
    answer = bot.ask("How many more soldiers followed the 1500 special forces?")
    assert answer.answered and "10,000" in answer.answer


def test_questions_can_be_limited_to_one_source(bot) -> None:
    answer = bot.ask("Where did the special forces train?",
                     source="north-korea-troops-ukraine.txt")
    assert {c.source for c in answer.citations} == {"north-korea-troops-ukraine.txt"}


def test_large_corpora_score_only_the_likeliest_passages_with_the_same_answers(bot,
                                                                              monkeypatch) -> None:
    # Beyond EXACT_SENTENCE_LIMIT sentences, FAISS and BM25 pick the passages to score.
    monkeypatch.setattr("qa_bot.retrieval.EXACT_SENTENCE_LIMIT", 0)
    monkeypatch.setattr("qa_bot.retrieval.CANDIDATE_PASSAGES", 4)  # of 7
    for question, expected in ARTICLE_QUESTIONS[:6]:
        assert expected in bot.ask(question).answer


def test_the_same_sentence_in_two_articles_is_quoted_once(tmp_path, embedder) -> None:
    # A story and its update: the runner-up is the best sentence's words again.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sentence = "The council approved a 14-million-euro flood wall for Low Town on Monday."
    (corpus / "story.txt").write_text(f"Flood wall plans approved\n\n{sentence} Work is due to "
                                      "start in the autumn and last two years.\n")
    (corpus / "update.txt").write_text(f"Flood wall plans approved (updated)\n\n{sentence} "
                                       "Residents had asked for the wall since the floods of "
                                       "2019.\n")
    build_index(corpus, tmp_path / "index", bundled_model_path(), embedder=embedder)
    answer = QABot(tmp_path / "index", embedder).ask("How much will the flood wall cost?")
    assert answer.answered and answer.answer.count(sentence) == 1
