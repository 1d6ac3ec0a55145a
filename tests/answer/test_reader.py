"""The shipped reading model loads and reads without torch, and tells an answer from a topic."""

import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.model  # runs the shipped reading model

READ_WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None  # any import of torch now fails
from qa_bot.answer.reader import Reader
reader = Reader()
answer = "North Korea first sent around 1,500 special forces to Vladivostok in October 2024."
first, second = reader.read("how many troops did kim send at first", [
    answer, "Ukraine launched its incursion into the Kursk region in August 2024."])
start, end = first.span
print(first.logit > second.logit, answer[start:end])
"""


def test_the_shipped_reader_reads_without_torch_and_ranks_the_answering_sentence_first() -> None:
    result = subprocess.run(
        [sys.executable, "-c", READ_WITHOUT_TORCH],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    ranked, span = result.stdout.strip().split(" ", 1)
    assert ranked == "True"
    assert "1,500" in span
