from pathlib import Path

import pytest

from qa_bot.errors import CorpusError
from qa_bot.ingest.corpus import (
    Document,
    DocumentInfo,
    SkippedFile,
    extract_html,
    read_document,
    scan_corpus,
    split_front_matter,
)
from tests.support.news_page import ARTICLE_PARAGRAPHS, FURNITURE, NEWS_PAGE


def test_scan_finds_articles_in_folders_sorted_with_hashes(tmp_path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.md").write_text("Two.", encoding="utf-8")
    (tmp_path / "one.txt").write_text("One.", encoding="utf-8")
    (tmp_path / "page.html").write_text("<p>Three.</p>", encoding="utf-8")
    (tmp_path / "notes.json").write_text("{}", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("no", encoding="utf-8")
    files = scan_corpus(tmp_path)
    assert [f.source for f in files] == ["b/two.md", "one.txt", "page.html"]
    assert all(len(f.sha256) == 64 for f in files)


def test_empty_or_missing_corpus_says_what_to_do(tmp_path) -> None:
    with pytest.raises(CorpusError, match="No .txt, .md or .html files in .*; add the articles"):
        scan_corpus(tmp_path)
    with pytest.raises(CorpusError, match="does not exist; create it"):
        scan_corpus(tmp_path / "missing")


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"caf\xe9 au lait", "is not valid UTF-8 at byte 3; save it as UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "is a binary file, not text"),
        (b"  \n\n ", "has no text"),
    ],
)
def test_unreadable_files_are_skipped_with_a_reason(tmp_path, content, reason) -> None:
    (tmp_path / "bad.txt").write_bytes(content)
    result = read_document(scan_corpus(tmp_path)[0])
    assert result == SkippedFile("bad.txt", reason)


def test_a_file_that_cannot_be_read_is_skipped_not_fatal(tmp_path, monkeypatch) -> None:
    (tmp_path / "locked.txt").write_text("Locked.", encoding="utf-8")
    (tmp_path / "open.txt").write_text("Open.", encoding="utf-8")
    read_bytes = Path.read_bytes

    def refuse_locked(path: Path) -> bytes:  # chmod 000 does not stop root, who runs CI
        if path.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse_locked)
    locked, opened = (read_document(f) for f in scan_corpus(tmp_path))
    assert locked == SkippedFile(
        "locked.txt", "cannot be read (Permission denied); check that it exists and its permissions"
    )
    assert isinstance(opened, Document) and opened.text == "Open."


def test_a_news_page_gives_its_article_paragraphs_and_metadata_only() -> None:
    text, info = extract_html(NEWS_PAGE.read_text(encoding="utf-8"))
    paragraphs = text.strip().split("\n\n")
    assert len(paragraphs) == len(ARTICLE_PARAGRAPHS)
    for paragraph, opening in zip(paragraphs, ARTICLE_PARAGRAPHS):
        assert paragraph.startswith(opening)
    assert [f for f in FURNITURE if f.lower() in text.lower()] == []
    assert info == DocumentInfo(
        "Harbour ferry service to resume in March after storm repairs",
        "2025-02-14",
        "Maria Lindqvist",
    )


def test_a_short_page_keeps_its_text_and_drops_scripts_styles_and_navigation() -> None:
    page = """<html><head><title>Troops arrive</title><style>p{color:red}</style>
    <script>var tracking = 1;</script></head><body>
    <nav><a href="/">Home</a> <a href="/world">World</a></nav>
    <header>Site banner</header>
    <article><h1>Troops arrive</h1><p>About <b>1,500</b> soldiers
    arrived in October.</p><p>More followed.</p><aside>Related: other story</aside></article>
    <footer>Copyright</footer></body></html>"""
    text, info = extract_html(page)
    assert text == "Troops arrive\n\nAbout 1,500 soldiers arrived in October.\n\nMore followed.\n"
    assert info == DocumentInfo("Troops arrive")


def test_html_document_text_is_the_extracted_text(tmp_path) -> None:
    (tmp_path / "a.html").write_text(
        "<html><body><main><p>Hello there.</p></main></body></html>", encoding="utf-8"
    )
    document = read_document(scan_corpus(tmp_path)[0])
    assert isinstance(document, Document)
    assert document.text == "Hello there.\n"
    assert document.info == DocumentInfo("Hello there.")


def test_markdown_front_matter_gives_metadata_and_is_not_indexed(tmp_path) -> None:
    body = "# Ferry returns\n\nThe ferry runs again from 3 March.\n"
    (tmp_path / "story.md").write_text(
        "---\ntitle: Ferry service to resume\npublished: 2025-02-14\n"
        "author: [Maria Lindqvist, Tom Reed]\ntags: [ferries]\n---\n" + body,
        encoding="utf-8",
    )
    document = read_document(scan_corpus(tmp_path)[0])
    assert isinstance(document, Document)
    assert document.text == body
    assert document.info == DocumentInfo(
        "Ferry service to resume", "2025-02-14", "Maria Lindqvist, Tom Reed"
    )


@pytest.mark.parametrize(
    "text, info",
    [
        ("# Ferry returns\n\nIt runs.\n", DocumentInfo("Ferry returns")),
        (
            "---\ndate: 2025-02-14T08:30:00Z\n---\nFerry returns\nIt runs.\n",
            DocumentInfo("Ferry returns", "2025-02-14"),
        ),
        ("---\n---\nFerry returns\n", DocumentInfo("Ferry returns")),
    ],
)
def test_markdown_without_a_title_in_front_matter_is_titled_by_its_first_line(text, info) -> None:
    assert split_front_matter(text)[1] == info


@pytest.mark.parametrize(
    "front_matter, reason",
    [
        ("title: a: b\n", "has front matter that is not valid YAML (line 2); fix it or remove it"),
        (
            "- a list\n",
            "has front matter that is not a set of 'name: value' lines; fix it or remove it",
        ),
    ],
)
def test_broken_front_matter_skips_the_file_saying_what_to_fix(
    tmp_path, front_matter, reason
) -> None:
    (tmp_path / "story.md").write_text(f"---\n{front_matter}---\nText.\n", encoding="utf-8")
    assert read_document(scan_corpus(tmp_path)[0]) == SkippedFile("story.md", reason)
