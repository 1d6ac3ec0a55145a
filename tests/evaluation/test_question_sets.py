"""The reader-written question sets (calibration/data): every accepted answer and answering
sentence is the article's own text, and the two halves share no article."""

import json
from pathlib import Path

import pytest

from tests.support import ROOT

DATA = ROOT / "calibration" / "data"
KINDS = {
    "number",
    "date",
    "place",
    "person",
    "yesno",
    "why",
    "how",
    "what",
    "multi",
    "ontopic-unanswerable",
    "offtopic",
    "answerable",
    "ontopic",
}
SETS = sorted((DATA / "fit").glob("*.jsonl")) + sorted((DATA / "reported").glob("*.jsonl"))


@pytest.mark.parametrize("path", SETS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_answers_and_sentences_are_exact_text_of_the_article(path: Path) -> None:
    article = path.with_suffix(".txt").read_text(encoding="utf-8")
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        assert item["kind"] in KINDS, item
        assert bool(item["answers"]) == (
            item["kind"] not in {"ontopic-unanswerable", "offtopic", "ontopic"}
        ), item
        for sentence in item.get("sentences", []):
            assert sentence in article, sentence
        for answer in item["answers"]:
            assert answer in article, answer
            if item.get("sentences"):
                assert any(answer in s for s in item["sentences"]), (answer, item["question"])


def test_the_reported_half_is_large_and_shares_no_article_with_the_fit_half() -> None:
    fit = {p.stem for p in (DATA / "fit").glob("*.txt")}
    reported = {p.stem for p in (DATA / "reported").glob("*.txt")}
    assert len(reported) >= 4 and not fit & reported
    new = [p for p in SETS if "sentences" in p.read_text(encoding="utf-8")]
    questions = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in new)
    assert len(new) >= 8 and questions >= 300
    for story in new:
        words = len(story.with_suffix(".txt").read_text(encoding="utf-8").split())
        assert 500 <= words <= 900, story.name
