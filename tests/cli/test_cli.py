"""The command-line contract, run as a user runs it: subprocesses, exit codes, exact messages."""

import json
import os
import subprocess
import sys

import pytest

from tests.support import ASK_KEYS, CITATION_KEYS, ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa_bot", *args],
        cwd=ROOT,
        env=ENV,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ask_json_lines_from_stdin_in_order_with_history(article_index) -> None:
    corpus = article_index.parent / "corpus"
    lines = [
        "How many North Korean special forces arrived in Vladivostok?",
        json.dumps(
            {
                "question": "When did they arrive?",
                "history": [
                    {
                        "role": "user",
                        "content": "How many North Korean special forces arrived in Vladivostok?",
                    },
                    {"role": "assistant", "content": "Around 1,500. [1]"},
                ],
            }
        ),
        "Who painted the Mona Lisa?",
        "",
        '{"question": 7}',
        '{"question": "Where?", "history": "not a list"}',
    ]
    result = run("ask", "--index", str(article_index), "--json", "-", stdin="\n".join(lines) + "\n")
    assert result.returncode == 1  # some lines failed; the others were still answered
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["question"] for a in answers] == [
        lines[0],
        "When did they arrive?",
        "Who painted the Mona Lisa?",
        7,
        "Where?",
    ]
    first, follow_up, declined, bad_type, bad_history = answers
    assert set(first) == ASK_KEYS
    assert "1,500" in first["answer"] and "October 2024" in follow_up["answer"]
    assert 0 <= first["confidence"] <= 1 and first["answered"] is True
    for citation in first["citations"]:
        assert set(citation) == CITATION_KEYS
        source_text = (corpus / citation["source"]).read_text(encoding="utf-8")
        assert source_text[citation["start"] : citation["end"]] == citation["text"]
        assert citation["quote"] in citation["text"]
    assert declined["answered"] is False and declined["citations"] == []
    # The same messages as the API's (one parser: qa_bot/answer/ask_request.py).
    assert bad_type == {"question": 7, "error": '"question" must be text.'}
    assert bad_history["error"] == '"history" must be a list.'
    assert result.stderr.splitlines()[-2:] == [
        'error: line 5: "question" must be text.',
        'error: line 6: "history" must be a list.',
    ]


def test_ask_prints_the_answer_and_its_citations(article_index) -> None:
    result = run(
        "ask",
        "--index",
        str(article_index),
        "Which Russian region did Ukraine enter in August 2024?",
    )
    assert result.returncode == 0, result.stderr
    short, answer = result.stdout.splitlines()[:2]
    assert short == "» Kursk" and "Kursk region" in answer and answer.endswith(" [1]")
    assert (
        "\n[1] North Korea's Military Involvement in Ukraine: A Strategic Gamble for Both Kim "
        "Jong-un and Vladimir Putin (north-korea-troops-ukraine.txt, characters 476–1136)\n"
        in result.stdout
    )


@pytest.mark.parametrize(
    "args, code, message",
    [
        (
            ["ask", "--index", "{index}", "   "],
            1,
            "error: The question is empty; type a question about the article.",
        ),
        (
            ["ask", "--index", "{missing}", "Why?"],
            1,
            "error: No index in {missing}. Run 'python -m qa_bot build' first.",
        ),
        (
            ["ask", "--index", "{index}", "--source", "nope.txt", "Why?"],
            1,
            "error: No article named 'nope.txt' in the index; use one of: "
            "north-korea-troops-ukraine.txt.",
        ),
        (
            ["ask", "--colour", "Why?"],
            2,
            "error: unrecognized arguments: --colour (see 'python -m qa_bot --help')",
        ),
        (
            ["build", "--corpus", "{missing}", "--index", "{missing}-index"],
            1,
            "error: Corpus folder {missing} does not exist; create it and put .txt, .md or .html "
            "articles in it.",
        ),
        (["frobnicate"], 2, "error: argument COMMAND: invalid choice: 'frobnicate' (choose from "),
        (
            ["serve", "--port", "99999"],
            2,
            "error: argument --port: PORT must be a port number from 1 to 65535, not '99999'",
        ),
        # A file where a folder is expected.
        (["ask", "--index", "{file}", "Why?"], 1, "error: No index in {file}."),
        (
            ["build", "--index", "{file}"],
            1,
            "error: Cannot write the index in {file}: a file stands "
            "where its folder must be; choose another folder, then build again.",
        ),
        (
            ["eval", "{file}", "--index", "{index}", "--report", "{file}/report"],
            1,
            "error: {file}/report: a file stands where its folder must be; choose another folder.",
        ),
        (
            ["stats", "--log", "{file}", "--report", "{file}"],
            1,  # before any figure is printed
            "error: {file}: a file stands where its folder must be; choose another folder.",
        ),
    ],
)
def test_user_errors_are_one_line_and_an_exit_code(
    article_index, tmp_path, args, code, message
) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"question": "Why?", "answers": []}\n', encoding="utf-8")
    values = {
        "index": str(article_index),
        "missing": str(tmp_path / "missing"),
        "file": str(questions),
    }
    result = run(*[a.format(**values) for a in args])
    assert result.returncode == code
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(message.format(**values))
    assert "Traceback" not in result.stderr


def test_build_check_and_status_report_staleness(tmp_path, article_index) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "a.txt").write_text("The bridge reopened on Monday after repairs.", encoding="utf-8")
    built = run("build", "--corpus", str(corpus), "--index", str(index))
    assert built.returncode == 0, built.stderr
    assert (
        built.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "0 unchanged, 0 changed, 1 added, 0 removed: 1 passages embedded, 1 in the index, in "
        )
    )
    assert run("build", "--check", "--corpus", str(corpus), "--index", str(index)).returncode == 0
    (corpus / "b.txt").write_text("A second story.", encoding="utf-8")
    check = run("build", "--check", "--corpus", str(corpus), "--index", str(index))
    assert check.returncode == 1
    assert "stale: 0 changed, 1 added, 0 removed" in check.stderr
    status = run("status", "--corpus", str(corpus), "--index", str(index))
    assert status.returncode == 0
    assert "files:    1 indexed, 0 skipped" in status.stdout
    assert "state:    stale: 0 changed, 1 added, 0 removed" in status.stdout


def test_eval_prints_the_quality_table(article_index, tmp_path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"question": "Where did the special forces train?", '
        '"answers": ["Vladivostok"]}\n{"q": "Who painted the Mona Lisa?"}\n',
        encoding="utf-8",
    )
    result = run(
        "eval", str(questions), "--index", str(article_index), "--report", str(tmp_path / "report")
    )
    assert result.returncode == 0, result.stderr
    table = " ".join(result.stdout.split())
    assert "questions 2 (1 answerable, 1 unanswerable)" in table
    assert "answered right (answerable) 100.0%" in table
    assert "declined unanswerable 100.0%" in table
    assert (tmp_path / "report" / "risk-coverage.png").stat().st_size > 1000
    assert len((tmp_path / "report" / "results.jsonl").read_text().splitlines()) == 2


def test_eval_of_jsonl_reads_the_corpus_from_qa_bot_corpus(article_index, tmp_path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"question": "Where did the special forces train?", "answers": ["Vladivostok"]}\n',
        encoding="utf-8",
    )
    environment = {**ENV, "QA_BOT_CORPUS": str(article_index.parent / "corpus")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa_bot",
            "eval",
            str(questions),
            "--index",
            str(tmp_path / "no-index"),
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "answered right (answerable) 100.0%" in " ".join(result.stdout.split())
    assert not (tmp_path / "no-index").exists()


def test_ask_from_stdin_reads_utf8_with_a_byte_order_mark_and_names_other_encodings(
    article_index,
) -> None:
    lines = [
        "\ufeff" + json.dumps({"question": "Which Russian region did Ukraine enter?"}),
        "Who is K\xf6nig?",
    ]
    stdin = lines[0].encode("utf-8") + b"\n" + lines[1].encode("latin-1") + b"\n"
    result = subprocess.run(
        [sys.executable, "-m", "qa_bot", "ask", "--index", str(article_index), "--json", "-"],
        cwd=ROOT,
        env=ENV,
        input=stdin,
        capture_output=True,
        timeout=300,
    )
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["question"] == "Which Russian region did Ukraine enter?" and first["answered"]
    assert second["error"] == "The line is not UTF-8 text; save the questions as UTF-8."
    assert result.returncode == 1


def test_ask_from_stdin_in_text_prints_each_question_before_its_answer(article_index) -> None:
    questions = [
        "How many North Korean special forces arrived in Vladivostok?",
        "Who painted the Mona Lisa?",
    ]
    result = run("ask", "--index", str(article_index), "-", stdin="\n".join(questions) + "\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    asked = [line for line in lines if line.startswith("? ")]
    assert asked == [f"? {q}" for q in questions]
    first = lines.index(asked[0])
    assert lines[first + 1] == "» around 1,500"
    assert "characters 476–1136)" in result.stdout  # an en dash, as in the chat and the widget


def test_a_corpus_of_unreadable_files_says_so_in_one_sentence(tmp_path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "latin1.txt").write_bytes("Caf\xe9 news".encode("latin-1"))
    result = run("build", "--corpus", str(corpus), "--index", str(tmp_path / "index"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: No readable article in {corpus} (latin1.txt is not valid UTF-8 at byte 3; "
        "save it as UTF-8); add UTF-8 text."
    )
