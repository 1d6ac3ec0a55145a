"""The corpus: finding article files, hashing them, and reading their text.

Files are `.txt`, `.md` and `.html` under the corpus folder, in sub-folders too. A file that
cannot be read (binary, not UTF-8, empty, a name that is not UTF-8) is skipped with a reason
naming it, so one bad file never stops a build. Only files whose resolved path lies inside the
resolved corpus folder are ever read: a link to a file outside is skipped, unread.

Each document's text is what gets indexed, and citation offsets point into it: the file itself
for `.txt` and `.md`, except that Markdown's YAML front matter is removed (it is metadata, never
article text); for HTML, the article's main text as extracted by trafilatura, without the
page's furniture (navigation, share buttons, newsletter boxes, related links, comments, photo
credits). The headline, date and author come from the front matter or the page's metadata.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from qa_bot.errors import CorpusError

TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES
# YAML front matter: a block between "---" lines at the very top ("..." may close it).
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)


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
    info: DocumentInfo


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
            files.append(
                CorpusFile(
                    _printable(source),
                    path,
                    "",
                    "has a file name that is not valid UTF-8; rename it",
                )
            )
        elif not path.resolve().is_relative_to(root):
            files.append(
                CorpusFile(
                    source,
                    path,
                    "",
                    "is a link to a file outside the corpus folder, which is never read",
                )
            )
        else:
            files.append(_hashed(source, path))
    if not files:
        raise CorpusError(
            f"No .txt, .md or .html files in {corpus_dir}; add the articles to answer from."
        )
    return files


def _hashed(source: str, path: Path) -> CorpusFile:
    """The file with its content hash, or skipped when it cannot be read (no permission)."""
    try:
        return CorpusFile(source, path, hashlib.sha256(path.read_bytes()).hexdigest())
    except OSError as error:
        return CorpusFile(source, path, "", _unreadable(error))


def _unreadable(error: OSError) -> str:
    return f"cannot be read ({error.strerror}); check that it exists and its permissions"


def read_document(file: CorpusFile) -> Document | SkippedFile:
    """The file's text and headline, date and author, or why it cannot be used."""
    if file.skipped:
        return SkippedFile(file.source, file.skipped)
    try:
        raw = file.path.read_bytes()
    except OSError as error:  # gone or locked since it was scanned
        return SkippedFile(file.source, _unreadable(error))
    if b"\x00" in raw:
        return SkippedFile(file.source, "is a binary file, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return SkippedFile(
            file.source, f"is not valid UTF-8 at byte {error.start}; save it as UTF-8"
        )
    suffix = file.path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        text, info = extract_html(text)
    elif suffix == ".md":
        try:
            text, info = split_front_matter(text)
        except ValueError as error:
            return SkippedFile(file.source, str(error))
    else:
        info = DocumentInfo(title_line(text))
    if not text.strip():
        return SkippedFile(file.source, "has no text")
    return Document(file.source, text, file.sha256, info)


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


def split_front_matter(text: str) -> tuple[str, DocumentInfo]:
    """A Markdown file's text without its YAML front matter, and the title, published (or
    date) and author it gives; the first line is the title when the front matter has none.
    Raises ValueError, saying what to fix, when the front matter is not a YAML mapping."""
    import yaml

    match = FRONT_MATTER.match(text)
    if not match:
        return text, DocumentInfo(title_line(text))
    try:
        fields = yaml.safe_load(match.group(1) or "") or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark else ""
        raise ValueError(
            f"has front matter that is not valid YAML{where}; fix it or remove it"
        ) from error
    if not isinstance(fields, dict):
        raise ValueError(
            "has front matter that is not a set of 'name: value' lines; fix it or remove it"
        )
    body = text[match.end() :]
    published = fields.get("published", fields.get("date"))
    return body, DocumentInfo(
        _text(fields.get("title"))[:200] or title_line(body),
        _text(published) or None,
        _text(fields.get("author")) or None,
    )


def _text(value: object) -> str:
    """A front matter value as text: dates as YYYY-MM-DD, lists joined with commas."""
    if isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value if v is not None)
    return "" if value is None else " ".join(str(value).split())


def extract_html(html: str) -> tuple[str, DocumentInfo]:
    """The article text of a news page (one paragraph per block, blank lines between) and its
    headline, date and author, extracted by trafilatura; empty text when it finds none."""
    import trafilatura
    from trafilatura.settings import Document as Extracted

    document = trafilatura.bare_extraction(
        html,
        config=_trafilatura_config(),
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        include_links=False,
        include_formatting=False,
    )
    if not isinstance(document, Extracted) or not document.text:
        return "", DocumentInfo("")
    paragraphs = [" ".join(line.split()) for line in document.text.splitlines()]
    text = "\n\n".join(p for p in paragraphs if p) + "\n"
    title = " ".join((document.title or "").split())[:200] or title_line(text)
    return text, DocumentInfo(title, document.date or None, document.author or None)


@functools.lru_cache(maxsize=1)
def _trafilatura_config():  # type: ignore[no-untyped-def]
    from trafilatura.settings import use_config

    config = use_config()
    # A short article is still an article: under the default 250 characters trafilatura swaps
    # its extraction for a cruder one that keeps the navigation (seen on a three-line page).
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    # Its timeout uses SIGALRM, which only works in the main thread.
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    return config
