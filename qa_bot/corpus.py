"""The corpus: finding article files, hashing them, and reading their text.

Files are `.txt`, `.md` and `.html` under the corpus folder, in sub-folders too. A file that
cannot be read (binary, not UTF-8, empty, a name that is not UTF-8) is skipped with a reason
naming it, so one bad file never stops a build. Only files whose resolved path lies inside the
resolved corpus folder are ever read: a link to a file outside is skipped, unread.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError

TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES

# HTML elements whose text is never article text.
NON_TEXT_TAGS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside",
                 "form", "button", "svg", "iframe", "object", "select")
# Block elements: each becomes its own paragraph in the extracted text.
BLOCK_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "figcaption",
              "dt", "dd", "td", "th")


@dataclass(frozen=True)
class CorpusFile:
    """A file found in the corpus: `source` is its path relative to the corpus folder."""

    source: str
    path: Path
    sha256: str  # empty for a file skipped unread
    skipped: str = ""  # why the file is skipped unread; empty when it may be read


@dataclass(frozen=True)
class DocumentInfo:
    """What a reader sees of a document besides its text: its headline, date and author."""

    title: str
    published: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class Document:
    """The readable text of a corpus file; citation offsets index into `text`."""

    source: str
    text: str
    sha256: str


@dataclass(frozen=True)
class SkippedFile:
    source: str
    reason: str


def scan_corpus(corpus_dir: Path) -> list[CorpusFile]:
    """Every article file under `corpus_dir`, sorted by source, with its content hash."""
    if not corpus_dir.is_dir():
        raise CorpusError(
            f"Corpus folder {corpus_dir} does not exist; create it and put .txt, .md or .html "
            "articles in it."
        )
    root = corpus_dir.resolve()
    files = []
    for path in sorted(corpus_dir.rglob("*")):
        relative = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if not (path.suffix.lower() in SUFFIXES and path.is_file()):
            continue
        source = relative.as_posix()
        if not _is_utf8(source):
            files.append(CorpusFile(_printable(source), path, "", "has a file name that is not "
                                    "valid UTF-8; rename it"))
        elif not path.resolve().is_relative_to(root):
            files.append(CorpusFile(source, path, "", "is a link to a file outside the corpus "
                                    "folder, which is never read"))
        else:
            files.append(CorpusFile(source, path, hashlib.sha256(path.read_bytes()).hexdigest()))
    if not files:
        raise CorpusError(
            f"No .txt, .md or .html files in {corpus_dir}; add the articles to answer from."
        )
    return files


def read_document(file: CorpusFile) -> Document | SkippedFile:
    """The file's text, or why it cannot be used."""
    if file.skipped:
        return SkippedFile(file.source, file.skipped)
    raw = file.path.read_bytes()
    if b"\x00" in raw:
        return SkippedFile(file.source, "is a binary file, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return SkippedFile(
            file.source, f"is not valid UTF-8 (byte {error.start}); save it as UTF-8"
        )
    if file.path.suffix.lower() in HTML_SUFFIXES:
        text = html_to_text(text)
    if not text.strip():
        return SkippedFile(file.source, "has no text")
    return Document(file.source, text, file.sha256)


def _is_utf8(name: str) -> bool:
    """Whether a file name decoded from the file system was valid UTF-8 (Python keeps the
    bytes that were not as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(name: str) -> str:
    """A file name that is not UTF-8, shown with its odd bytes as \\xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def title_line(text: str) -> str:
    """A plain-text document's headline: its first non-empty line, without Markdown's '#'."""
    for line in text.splitlines():
        if line.strip():
            return line.strip().lstrip("#").strip()[:200]
    return ""


def html_to_text(html: str) -> str:
    """The readable article text of an HTML page: one paragraph per block, blank lines between."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for element in soup.find_all(NON_TEXT_TAGS):
        element.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    blocks = [
        element for element in root.find_all(BLOCK_TAGS)
        if element.find_parent(BLOCK_TAGS) is None
    ]
    paragraphs = [" ".join(block.get_text(" ").split()) for block in blocks]
    if not blocks:
        paragraphs = [" ".join(line.split()) for line in root.get_text("\n").splitlines()]
    return "\n\n".join(p for p in paragraphs if p) + "\n"
