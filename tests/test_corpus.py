import pytest

from qa_bot.corpus import Document, SkippedFile, html_to_text, read_document, scan_corpus
from qa_bot.errors import CorpusError


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


@pytest.mark.parametrize("content, reason", [
    (b"caf\xe9 au lait", "is not valid UTF-8 (byte 3); save it as UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "is a binary file, not text"),
    (b"  \n\n ", "has no text"),
])
def test_unreadable_files_are_skipped_with_a_reason(tmp_path, content, reason) -> None:
    (tmp_path / "bad.txt").write_bytes(content)
    result = read_document(scan_corpus(tmp_path)[0])
    assert result == SkippedFile("bad.txt", reason)


def test_html_keeps_article_text_and_drops_scripts_styles_and_navigation() -> None:
    page = """<html><head><title>T</title><style>p{color:red}</style>
    <script>var tracking = 1;</script></head><body>
    <nav><a href="/">Home</a> <a href="/world">World</a></nav>
    <header>Site banner</header>
    <article><h1>Troops arrive</h1><p>About <b>1,500</b> soldiers
    arrived in October.</p><p>More followed.</p><aside>Related: other story</aside></article>
    <footer>Copyright</footer></body></html>"""
    text = html_to_text(page)
    assert text == "Troops arrive\n\nAbout 1,500 soldiers arrived in October.\n\nMore followed.\n"


def test_html_document_text_is_the_extracted_text(tmp_path) -> None:
    (tmp_path / "a.html").write_text("<main><p>Hello there.</p></main>", encoding="utf-8")
    document = read_document(scan_corpus(tmp_path)[0])
    assert isinstance(document, Document)
    assert document.text == "Hello there.\n"
