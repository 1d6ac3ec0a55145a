import json
from dataclasses import replace

import pytest

from qa_bot.answer.bot import QABot
from qa_bot.config import bundled_model_path
from qa_bot.errors import QABotError
from qa_bot.evaluation.questions import load_cases, write_squad_corpus
from qa_bot.evaluation.report import risk_coverage, summarise
from qa_bot.evaluation.scoring import Result, _citation_faults, evaluate, normalise, short_contains
from qa_bot.indexing.build import build_index

SQUAD = {
    "version": "v2.0",
    "data": [
        {
            "title": "Bridges",
            "paragraphs": [
                {
                    "context": "The Old Bridge in Mostar was built in 1566 by the Ottoman "
                    "architect "
                    "Mimar Hayruddin. It was destroyed in 1993 and rebuilt in 2004.",
                    "qas": [
                        {
                            "question": "When was the Old Bridge in Mostar built?",
                            "is_impossible": False,
                            "answers": [{"text": "1566", "answer_start": 40}],
                        },
                        {
                            "question": "Who designed the New Bridge in Mostar?",
                            "is_impossible": True,
                            "answers": [],
                        },
                    ],
                },
                {
                    "context": "The Golden Gate Bridge opened in 1937. "
                    "Its main span is 1,280 metres long.",
                    "qas": [
                        {
                            "question": "How long is the main span of the Golden Gate Bridge?",
                            "is_impossible": False,
                            "answers": [{"text": "1,280 metres", "answer_start": 56}],
                        }
                    ],
                },
            ],
        }
    ],
}


def result(answers, answered, correct, confidence, hit1=True, words=10, ms=10.0):  # type: ignore[no-untyped-def]
    return Result(
        "q",
        tuple(answers),
        "a",
        answered,
        confidence,
        answered and correct,
        correct,
        hit1,
        True,
        words if answered else 0,
        ms / 1000,
    )


def test_summary_figures_match_a_hand_count() -> None:
    results = [
        result(["x"], True, True, 0.9, words=20, ms=10),
        result(["x"], True, False, 0.8, hit1=False, words=30, ms=20),
        result(["x"], False, True, 0.3, ms=30),
        result([], True, False, 0.7, words=40, ms=40),
        result([], False, False, 0.1, ms=50),
    ]
    report = summarise(results)
    assert (report.questions, report.answerable, report.unanswerable) == (5, 3, 2)
    assert report.answered == pytest.approx(2 / 3)
    assert report.containment == pytest.approx(1 / 3)
    assert report.hit_at_1 == pytest.approx(2 / 3) and report.hit_at_3 == 1.0
    assert report.mean_words == 25.0
    assert report.declined_unanswerable == 0.5
    # Of the six (answerable, unanswerable) pairs, only 0.3 < 0.7 is ranked the wrong way.
    assert report.separation_by_kind == {"": pytest.approx(5 / 6)}
    # The 90th percentile lies between the two slowest (40 and 50 ms), never under the median.
    assert report.median_ms == pytest.approx(30.0) and report.p90_ms == pytest.approx(46.0)
    two = summarise([result([], False, False, 0.1, ms=150), result([], False, False, 0.1, ms=16)])
    assert two.p90_ms > two.median_ms
    # Thresholds at each confidence: answer everything down to it; right = undeclined correct.
    assert risk_coverage(results) == [
        (0.1, 1.0, pytest.approx(2 / 5)),
        (0.3, 0.8, 0.5),
        (0.7, 0.6, pytest.approx(1 / 3)),
        (0.8, 0.4, 0.5),
        (0.9, 0.2, 1.0),
    ]


def test_squad_files_give_questions_and_paragraphs(tmp_path) -> None:
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(SQUAD), encoding="utf-8")
    cases, articles = load_cases(path)
    assert [c.answers for c in cases] == [("1566",), (), ("1,280 metres",)]
    assert [c.kind for c in cases] == ["answerable", "unanswerable", "answerable"]
    assert {c.source for c in cases} == {"Bridges.txt"}
    assert articles is not None and [len(p) for p in articles.values()] == [2]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("bad.json", "{}", "is not SQuAD 2.0 JSON"),
        ("bad.jsonl", '{"question": 3}\n', 'line 1 needs "question" text'),
        ("bad.jsonl", "not json\n", "line 1 is not a question record"),
        (
            "bad.jsonl",
            '{"question": "When?", "answers": "August"}\n',
            r'line 1 needs "question" text and "answers" \(and "sentences", when given\) as lists',
        ),
        ("bad.jsonl", '{"question": "When?", "answers": ""}\n', 'line 1 needs "question" text'),
        (
            "bad.jsonl",
            '{"question": "When?", "answers": null}\n{"question": 3}\n',
            'line 2 needs "question" text',
        ),  # null is no answers: line 1 is fine
        ("empty.jsonl", "\n", "holds no questions; give one JSON record per line"),
    ],
)
def test_bad_question_files_say_what_is_expected(tmp_path, name, content, message) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(QABotError, match=message):
        load_cases(tmp_path / name)


def test_evaluating_a_squad_article_end_to_end(tmp_path, embedder) -> None:
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(SQUAD), encoding="utf-8")
    cases, articles = load_cases(path)
    corpus = write_squad_corpus(articles, tmp_path / "corpus")
    build_index(corpus, tmp_path / "index", bundled_model_path(), embedder=embedder)
    results = evaluate(QABot(tmp_path / "index", embedder), cases)
    report = summarise(results)
    assert report.answerable == 2 and report.containment == 1.0 and report.hit_at_1 == 1.0
    assert all(r.words == len(r.answer.split()) for r in results if r.answered)


def test_short_answers_count_after_squad_normalisation() -> None:
    def short(answers, text, kind="answerable"):  # type: ignore[no-untyped-def]
        return Result(
            "q",
            tuple(answers),
            "a",
            True,
            0.9,
            True,
            True,
            True,
            True,
            10,
            0.01,
            kind=kind,
            short_answer=text,
            short_correct=text is not None and short_contains(text, tuple(answers)),
        )

    results = [
        short(["The Seine"], "the Seine river"),
        short(["1,500"], "around 1,500"),
        short(["Rollo"], None),
        short(["in the north of France"], "France"),
        Result("q", (), "a", False, 0.1, False, False, False, False, 0, 0.01, kind="offtopic"),
        Result("q", (), "a", True, 0.9, False, False, False, False, 5, 0.01, kind="ontopic"),
    ]
    report = summarise(results)
    # Three questions have a short accepted answer (the fourth's has five words); two hold it.
    assert report.short_questions == 3 and report.short_accuracy == pytest.approx(2 / 3)
    assert report.short_given == pytest.approx(2 / 3)
    assert report.declined_by_kind == {"offtopic": (1, 1), "ontopic": (0, 1)}
    # Every answerable question scores 0.9: above the off-topic one, level with the on-topic one.
    assert report.separation_by_kind == {"offtopic": 1.0, "ontopic": 0.5}
    assert "offtopic 1.00, ontopic 0.50" in report.table()
    assert normalise("The  Seine, river!") == "seine river"


def test_a_short_answer_that_is_not_its_own_slice_is_a_citation_fault(bot) -> None:
    answer = bot.ask("How many North Korean special forces arrived in Vladivostok?")
    assert answer.short_answer is not None and _citation_faults(answer) == 0
    # The right offsets with another text: what slicing the wrong passage would give.
    wrong = replace(answer.short_answer, text="")
    assert _citation_faults(replace(answer, short_answer=wrong)) == 1


@pytest.mark.model  # runs `python -m qa_bot eval`: the encoder and the reader
def test_articles_with_their_own_text_are_indexed_alone_then_pooled(tmp_path) -> None:
    """Two tiny articles, each with its questions beside it: each is built alone (a question
    about one cannot be answered from the other), the pooled figures add both up, and the AUC
    is reported per article as well as pooled."""
    import subprocess
    import sys

    stories = {
        "bridge": (
            "Harbour Bridge Reopens\nThe Harbour Bridge in Portlow reopened on Monday after "
            "repairs that cost 4.2 million pounds. Engineers replaced 120 steel cables.\n",
            [
                {
                    "question": "how much did the bridge repairs cost",
                    "answers": ["4.2 million pounds"],
                    "sentences": [
                        "The Harbour Bridge in Portlow reopened on Monday after repairs "
                        "that cost 4.2 million pounds."
                    ],
                    "kind": "number",
                },
                {
                    "question": "who designed the bridge",
                    "answers": [],
                    "kind": "ontopic-unanswerable",
                },
            ],
        ),
        "orchard": (
            "Orchard Wins Prize\nThe Kessel orchard won the national apple prize on "
            "Friday. Its owner, Mara Lind, has grown apples there since 1998.\n",
            [
                {"question": "who owns the orchard", "answers": ["Mara Lind"], "kind": "person"},
                {
                    "question": "how much did the bridge repairs cost",
                    "answers": [],
                    "kind": "ontopic-unanswerable",
                },
            ],
        ),
    }
    folder = tmp_path / "sets"
    folder.mkdir()
    for name, (text, questions) in stories.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
        (folder / f"{name}.jsonl").write_text(
            "".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8"
        )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa_bot",
            "eval",
            str(folder),
            "--index",
            str(tmp_path / "unused"),
            "--report",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "questions 4 (2 answerable, 2 unanswerable)" in " ".join(result.stdout.split())
    per_article = result.stdout.split("per article")[1]
    assert "bridge.txt" in per_article and "orchard.txt" in per_article
    rows = [
        json.loads(line)
        for line in (tmp_path / "report" / "results.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    by_name = {(r["article"], r["question"]): r for r in rows}
    # The bridge's cost is not in the orchard's index: asked of the orchard, it is declined.
    assert by_name["bridge.txt", "how much did the bridge repairs cost"]["contains_answer"]
    assert not by_name["orchard.txt", "how much did the bridge repairs cost"]["answered"]
    assert (
        by_name["bridge.txt", "how much did the bridge repairs cost"]["quotes_answering_sentence"]
        is True
    )


def test_auc_is_reported_per_article_and_pooled() -> None:
    from qa_bot.evaluation.report import by_article

    def case(article, answers, confidence, kind):  # type: ignore[no-untyped-def]
        return replace(
            result(answers, confidence >= 0.5, bool(answers), confidence),
            kind=kind,
            article=article,
        )

    results = [
        case("a", ["x"], 0.9, "number"),
        case("a", [], 0.2, "ontopic-unanswerable"),
        case("b", ["x"], 0.4, "number"),
        case("b", [], 0.6, "ontopic-unanswerable"),
        case("b", [], 0.99, "offtopic"),
    ]
    reports = by_article(results)
    assert reports["a"].auc_on_topic == 1.0 and reports["b"].auc_on_topic == 0.0
    # Pooled: 0.9 beats both on-topic questions, 0.4 beats 0.2 only; off-topic does not count.
    assert summarise(results).auc_on_topic == pytest.approx(3 / 4)
    assert summarise(results).answered_wrong == 0.0
