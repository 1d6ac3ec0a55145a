"""Reading a question: plain rules, no model."""

import pytest

from qa_bot.answer.question import (
    Turn,
    answer_type,
    asked_noun,
    asks_about_future,
    asks_about_headline,
    asks_for_headline,
    asks_for_source,
    asks_what_was_said,
    content_words,
    is_followup,
    missing_numbers,
    named_numbers,
    names,
    numbers,
    previous_question,
    reports_a_statement,
    speaks_of_future,
)


@pytest.mark.parametrize(
    "question, kind",
    [
        ("How many North Korean special forces reached Vladivostok?", "number"),
        ("How long since North Korean soldiers last saw combat?", "duration"),
        ("In what year did the incursion happen?", "date"),
        ("Who reported the planned new deployment?", "person"),
        ("Which Russian general trains the soldiers?", "person"),
        ("Where do North Korean soldiers normally patrol?", "place"),
        ("Which country's intelligence tracked the arrivals?", "place"),
        ("What percentage of the troops were casualties?", "number"),
        ("Why are the troops suffering such losses?", None),
        ("What does Putin gain?", None),
        ("How many North Korean soldiers arrived?", "number"),
        ("How long did the training last?", "duration"),
        ("How many years did Whitfield teach?", "duration"),
        ("How many day did filming take", "duration"),  # a unit typed in the singular
        ("Which Amiibo figure heals Link?", None),  # a figure here is no number
        ("When did they arrive?", "date"),
        ("Who leads the troops?", "person"),
        ("Where did the special forces train?", "place"),
        ("Which Russian region did they go to?", "place"),
        ("What year did the war start?", "date"),
        ("Which newspaper reported it?", "organisation"),
        ("Why did they go?", None),
        ("What happened in Kursk?", None),
    ],
)
def test_the_kind_of_answer_asked_for(question, kind) -> None:
    assert answer_type(question) == kind


@pytest.mark.parametrize(
    "question, noun",
    [
        ("How many North Korean soldiers speak Russian?", "soldiers"),
        ("How many special forces arrived?", "forces"),
        ("How many more soldiers followed the special forces?", "soldiers"),
        ("How much money did FreshCrate lose?", "money"),
        ("How many people live in Eastfield?", "people"),
        ("Which Russian general trains the soldiers?", "general"),
        ("What is the Norman religion?", "religion"),
        ("What river bounded the duchy?", "river"),
        ("Who leads the troops?", None),
        ("Why did they go?", None),
    ],
)
def test_the_noun_a_question_asks_about(question, noun) -> None:
    assert asked_noun(question) == noun


def test_content_words_drop_stopwords_question_words_and_possessives() -> None:
    assert content_words("According to the article, what is Russia's plan?") == ["russia", "plan"]
    assert content_words("Whose return to the presidency?") == ["return", "presidency"]


def test_names_are_the_capitalised_words_after_the_first() -> None:
    assert names("Did the White House comment on Kim Jong Un's visit?") == [
        "White House",
        "Kim Jong Un",
    ]
    assert names("What did the White House say about South Korea's army?") == [
        "White House",
        "South Korea",
    ]
    assert names("Where is Kursk?") == ["Kursk"]


def test_questions_asking_what_someone_said_and_sentences_reporting_it() -> None:
    assert asks_what_was_said("What did the White House say about the soldiers?")
    assert asks_what_was_said("What has NATO said?")
    assert not asks_what_was_said("What does the article say motivates the collaboration?")
    assert not asks_what_was_said("Who said it?")
    assert not asks_what_was_said("What is the state of the economy?")
    assert not asks_what_was_said("What is reported about casualties?")
    assert not asks_what_was_said("What was the death toll reported by officials?")
    assert reports_a_statement("As reported by USAZINE, a new deployment is planned.")
    assert reports_a_statement("“We will win,” the mayor told supporters.")
    assert not reports_a_statement("The flooding closed the Kingsway Bridge.")
    assert not reports_a_statement("They landed at a town called Bayeux.")


def test_questions_about_what_is_to_come_and_sentences_speaking_of_it() -> None:
    assert asks_about_future("When will the Kingsway Bridge reopen?")
    assert asks_about_future("Until when will schools stay closed?")
    assert asks_about_future("When is the deal expected to close?")
    assert asks_about_future("Will Halvorsen cut jobs?")
    assert not asks_about_future("What will the remaster feature?")  # what a thing does
    assert not asks_about_future("Who wrote in their will that she was cared for?")
    assert not asks_about_future("When did the troops arrive?")
    assert not asks_about_future("Will Smith starred in which film?")  # a name
    assert speaks_of_future("The line will launch in April 2016.")
    assert speaks_of_future("Safety checks were to be carried out at schools.")
    assert not speaks_of_future("FreshCrate cut 300 jobs last spring.")
    assert not speaks_of_future("The delay was due to the storm.")
    assert speaks_of_future("The mayor said it won’t reopen before May.")  # a curly apostrophe
    assert speaks_of_future("They’ll vote on the plan.")


def test_numbers_are_compared_as_numbers_however_written() -> None:
    assert numbers("The sixth-generation iPod, 2013–14, 1,500 men, over eighty, 100m") == {
        "6",
        "2013",
        "2014",
        "1500",
        "80",
        "100",
    }
    assert numbers("two DB10s near the MI6 building in the 1970s") == {"2", "db10", "mi6", "197*"}
    assert named_numbers("What did 6th-generation iPods limit in the '90s?") == {"6", "199*"}
    assert named_numbers("Which 3 musicians joined in 1855?") == {"1855"}  # a count, unsaid
    assert missing_numbers("Who sold iPods in 2004-05?", "From 2004 until 2005 HP sold") == set()
    assert numbers("in 2008-9 and 1999-00, in q3") == {"2008", "2009", "1999", "2000", "3"}
    assert missing_numbers("What revenue in Q2 2007?", "Second quarter revenue in 2007") == set()
    assert missing_numbers("What began in the 1970s?", "The 1973 oil embargo began") == set()
    assert missing_numbers("Who is taken to the old MI66 building?", "the old MI6 building") == {
        "mi66"
    }


def test_questions_about_the_source_and_the_headline() -> None:
    assert asks_for_source("Who reported the deployment?")
    assert asks_for_source("According to which agency did they arrive?")
    assert not asks_for_source("Who leads the troops?")
    assert asks_about_headline("What does the headline say?")


@pytest.mark.parametrize(
    "question, asks",
    [
        ("What's the story's headline?", True),
        ("What is the title of the article?", True),
        ("What does the headline say about Putin?", False),
        ("Who wrote the headline?", False),
        ("What is not in the headline?", False),
        ("What wasn't in the headline?", False),
        ("What was the title?", False),  # of a championship, say
    ],
)
def test_a_question_asks_for_the_headline_itself(question, asks) -> None:
    assert asks_for_headline(question) is asks


def test_a_followup_leans_on_the_last_question_that_stood_on_its_own() -> None:
    history = [
        Turn("user", "How many soldiers arrived in Vladivostok?"),
        Turn("assistant", "Around 1,500. [1]"),
        Turn("user", "When?"),
    ]
    assert is_followup("When did they arrive?") and is_followup("Where?")
    assert not is_followup("How many soldiers arrived in Vladivostok?")
    assert previous_question("Where?", history) == "How many soldiers arrived in Vladivostok?"
    assert previous_question("Who leads the North Korean troops?", history) is None
    assert previous_question("When?", []) is None
