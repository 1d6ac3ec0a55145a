"""The index on disk: the only module that imports faiss.

Layout of the index folder:
    CURRENT               the name of the active build, replaced atomically
    builds/<id>/          manifest.json, passages.json, passages.faiss, sentences.npy,
                          notes.json (what each sentence holds: answer phrases, lemmas)
A build is written to `builds/<id>.partial`, renamed when complete, and only then named in
CURRENT. A build killed at any moment leaves the previous index loadable.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path

import faiss
import numpy as np

from .annotation import SPACY_PIPELINE, Phrase, SentenceNotes
from .chunking import ChunkingSettings, Passage, Sentence
from .corpus import DocumentInfo
from .errors import BuildInProgress, IndexCorrupt, IndexMismatch, IndexMissing, IndexUnwritable

# 2: notes.json (the sentence annotations); each file's headline, date and author; HTML
# extracted by trafilatura
FORMAT_VERSION = 2
# Exact search up to this many passages, IVF beyond. Exact search costs about 1 ms per 1,000
# passages a query here; IVF at 1 million passages about 1-4 ms (BENCHMARKS.md).
EXACT_SEARCH_LIMIT = 100_000
IVF_PROBES = 32
REBUILD = "Run 'python -m qa_bot build --full' to rebuild it."
INDEX_FILES = ("passages.json", "passages.faiss", "sentences.npy", "notes.json", "terms.json",
               "terms.npy")  # and manifest.json
# Why a write failed, for the errors a person can fix: (errno, what to do).
WRITE_PROBLEMS = {errno.ENOSPC: "the disk is full; free some space",
                  errno.EDQUOT: "the disk quota is used up; free some space",
                  errno.EROFS: "the file system is read-only; use a writable folder",
                  errno.EACCES: "permission is denied; use a folder you may write to",
                  errno.EPERM: "permission is denied; use a folder you may write to"}


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    passages: int = 0
    skipped: str = ""  # why the file was skipped; empty when it was indexed
    title: str = ""
    published: str | None = None
    author: str | None = None

    @property
    def document(self) -> DocumentInfo:
        return DocumentInfo(self.title, self.published, self.author)


@dataclass(frozen=True)
class IndexFileRecord:
    """What the build wrote into one index file, to notice damage later."""

    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    model_name: str
    model_fingerprint: str
    dimension: int
    chunking: dict[str, int]
    files: dict[str, FileRecord]
    built_at: str
    index_type: str = "flat"
    model_weights: str = ""  # size:mtime of the weights file when fingerprinted
    annotator: str = ""  # the spaCy pipeline and version that annotated the sentences
    encoder: str = ""  # how texts were encoded: kind and artifact hash (embedding.py)
    packages: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    # Size and checksum of each of INDEX_FILES; empty in builds made before they were recorded.
    index_files: dict[str, IndexFileRecord] = field(default_factory=dict)

    @property
    def sources(self) -> list[str]:
        return [source for source, record in self.files.items() if not record.skipped]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> Manifest:
        data = json.loads(raw)
        data["files"] = {s: FileRecord(**r) for s, r in data["files"].items()}
        data["index_files"] = {name: IndexFileRecord(**record)
                               for name, record in data.get("index_files", {}).items()}
        return cls(**data)


def mismatch(manifest: Manifest, model_name: str, model_fingerprint: str, encoder: str,
             chunking: ChunkingSettings) -> str | None:
    """What differs between the index and the model and settings in use, or None."""
    if manifest.format_version != FORMAT_VERSION:
        return f"index format {manifest.format_version}, this version reads {FORMAT_VERSION}"
    if manifest.model_fingerprint != model_fingerprint:
        return (f"model {manifest.model_name} ({manifest.model_fingerprint[:19]}) but the bot "
                f"uses {model_name} ({model_fingerprint[:19]})")
    if manifest.encoder != encoder:
        return (f"encoder {manifest.encoder[:29] or 'sentence-transformers (torch)'} but the "
                f"bot uses {encoder[:29]}")
    if manifest.chunking != asdict(chunking):
        return f"chunking {manifest.chunking} but the bot uses {asdict(chunking)}"
    if manifest.annotator != annotator_version():
        return f"annotator {manifest.annotator!r} but the bot uses {annotator_version()!r}"
    return None


def annotator_version() -> str:
    """The spaCy pipeline behind the sentence notes, read from package metadata (no import)."""
    name = SPACY_PIPELINE.replace("_", "-")
    try:
        return f"{SPACY_PIPELINE} {metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return f"{SPACY_PIPELINE} (not installed)"


def check_compatible(manifest: Manifest, model_name: str, model_fingerprint: str, encoder: str,
                     chunking: ChunkingSettings) -> None:
    difference = mismatch(manifest, model_name, model_fingerprint, encoder, chunking)
    if difference:
        raise IndexMismatch(f"The index was built with {difference}. {REBUILD}")


def package_versions() -> dict[str, str]:
    names = ("faiss-cpu", "onnxruntime", "tokenizers", "numpy", "spacy")
    return {name: metadata.version(name) for name in names}


class VectorIndex:
    """Inner-product search over normalised vectors, exact or approximate by size."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = index
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = IVF_PROBES
            index.make_direct_map()

    @classmethod
    def build(cls, vectors: np.ndarray, exact_limit: int = EXACT_SEARCH_LIMIT) -> VectorIndex:
        """Exact search up to `exact_limit` vectors, IVF (about 4·sqrt(n) lists) beyond."""
        count, dimension = vectors.shape
        if count <= exact_limit:
            index = faiss.IndexFlatIP(dimension)
        else:
            lists = int(4 * math.sqrt(count))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists,
                                       faiss.METRIC_INNER_PRODUCT)
            sample = vectors[np.random.default_rng(0).choice(count, min(count, 64 * lists),
                                                             replace=False)]
            index.train(sample)
        index.add(vectors)
        return cls(index)

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self.index, faiss.IndexIVF) else "flat"

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    def vectors(self, start: int, end: int) -> np.ndarray:
        """The stored vectors of ids start..end-1."""
        if isinstance(self.index, faiss.IndexIVF):  # reconstruct_n would scan every list
            return self.index.reconstruct_batch(np.arange(start, end, dtype=np.int64))
        return self.index.reconstruct_n(start, end - start)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the k best passages, best first."""
        k = min(k, self.count)
        scores, ids = self.index.search(query.reshape(1, -1), k)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def search_range(self, query: np.ndarray, start: int, end: int,
                     k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact search among ids start..end-1 (one source's passages)."""
        scores = self.vectors(start, end) @ query
        order = np.argsort(-scores)[:k]
        return order + start, scores[order]


@dataclass
class StoredIndex:
    """A loaded build: passages in source order, their vectors, and one vector per sentence."""

    build_id: str
    manifest: Manifest
    passages: list[Passage]
    vectors: VectorIndex
    sentence_vectors: np.ndarray
    sentence_notes: list[SentenceNotes]  # one per sentence, in the order of sentence_vectors
    terms: list[str]  # the corpus's content lemmas, sorted
    term_vectors: np.ndarray  # one vector per term

    def __post_init__(self) -> None:
        self.source_ranges: dict[str, tuple[int, int]] = {}
        for number, passage in enumerate(self.passages):
            first, _ = self.source_ranges.get(passage.source, (number, number))
            self.source_ranges[passage.source] = (first, number + 1)
        self.sentence_offsets = np.cumsum([0] + [len(p.sentences) for p in self.passages])
        self.documents = {source: self.manifest.files[source].document
                          for source in self.source_ranges}


def current_build(index_dir: Path) -> str | None:
    """The active build's id, or None when there is no index. Cheap: one small read."""
    try:
        return (index_dir / "CURRENT").read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def read_manifest(index_dir: Path) -> tuple[str, Manifest]:
    build_id = _require_build(index_dir)
    path = index_dir / "builds" / build_id / "manifest.json"
    return build_id, _read(path, lambda p: Manifest.from_json(p.read_text(encoding="utf-8")))


def verify_build(index_dir: Path, build_id: str, manifest: Manifest, *,
                 checksums: bool) -> None:
    """Raise IndexCorrupt naming the first index file whose size (and, with `checksums`,
    content) differs from what the build recorded. Sizes cost one stat per file; checksums
    read every byte (BENCHMARKS.md)."""
    folder = index_dir / "builds" / build_id
    for name, record in manifest.index_files.items():
        path = folder / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise IndexCorrupt(f"Index file {path} is missing. {REBUILD}") from None
        if size != record.size:
            raise IndexCorrupt(f"Index file {path} is damaged: it has {size:,} bytes, the "
                               f"build wrote {record.size:,}. {REBUILD}")
        if checksums and _sha256(path) != record.sha256:
            raise IndexCorrupt(f"Index file {path} is damaged: its checksum differs from the "
                               f"one the build recorded. {REBUILD}")


def load_index(index_dir: Path) -> StoredIndex:
    build_id, manifest = read_manifest(index_dir)
    verify_build(index_dir, build_id, manifest, checksums=False)
    folder = index_dir / "builds" / build_id
    passages = _read(folder / "passages.json", _read_passages)
    vectors = VectorIndex(_read(folder / "passages.faiss", lambda p: faiss.read_index(str(p))))
    sentence_vectors = _read(folder / "sentences.npy", lambda p: np.load(p, allow_pickle=False))
    sentence_count = sum(len(p.sentences) for p in passages)
    if vectors.count != len(passages) or vectors.index.d != manifest.dimension:
        raise IndexCorrupt(f"Index file {folder / 'passages.faiss'} does not match its "
                           f"passages. {REBUILD}")
    if sentence_vectors.shape != (sentence_count, manifest.dimension):
        raise IndexCorrupt(f"Index file {folder / 'sentences.npy'} does not match its "
                           f"passages. {REBUILD}")
    notes = _read(folder / "notes.json", _read_notes)
    if len(notes) != sentence_count:
        raise IndexCorrupt(f"Index file {folder / 'notes.json'} does not match its "
                           f"passages. {REBUILD}")
    terms = _read(folder / "terms.json", lambda p: json.loads(p.read_text(encoding="utf-8")))
    term_vectors = _read(folder / "terms.npy", lambda p: np.load(p, allow_pickle=False))
    if len(term_vectors) != len(terms):
        raise IndexCorrupt(f"Index file {folder / 'terms.npy'} does not match terms.json. "
                           f"{REBUILD}")
    return StoredIndex(build_id, manifest, passages, vectors, sentence_vectors, notes, terms,
                       term_vectors)


def save_index(index_dir: Path, manifest: Manifest, passages: list[Passage],
               passage_vectors: np.ndarray, sentence_vectors: np.ndarray,
               notes: list[SentenceNotes], terms: list[str], term_vectors: np.ndarray) -> str:
    """Write a complete build, then make it current in one atomic step. Returns its id.

    A build that fails on the way leaves nothing behind: its partial folder is deleted."""
    builds = index_dir / "builds"
    build_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}"
    partial = builds / f"{build_id}.partial"
    with writing(index_dir):
        partial.mkdir(parents=True)
        try:
            _write_build(partial, manifest, passages, passage_vectors, sentence_vectors, notes,
                         terms, term_vectors)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        os.rename(partial, builds / build_id)
        _make_current(index_dir, build_id)
    return build_id


def _write_build(folder: Path, manifest: Manifest, passages: list[Passage],
                 passage_vectors: np.ndarray, sentence_vectors: np.ndarray,
                 notes: list[SentenceNotes], terms: list[str], term_vectors: np.ndarray) -> None:
    vectors = VectorIndex.build(passage_vectors)
    faiss.write_index(vectors.index, str(folder / "passages.faiss"))
    np.save(folder / "sentences.npy", sentence_vectors)
    _write(folder / "passages.json", json.dumps([_passage_record(p) for p in passages]))
    _write(folder / "notes.json", json.dumps([_notes_record(n) for n in notes]))
    _write(folder / "terms.json", json.dumps(terms))
    np.save(folder / "terms.npy", term_vectors)
    records = {name: IndexFileRecord((folder / name).stat().st_size, _sha256(folder / name))
               for name in INDEX_FILES}
    manifest = replace(manifest, index_type=vectors.kind, index_files=records)
    _write(folder / "manifest.json", manifest.to_json())
    for path in folder.iterdir():
        _fsync(path)


def _make_current(index_dir: Path, build_id: str) -> None:
    _write(index_dir / "CURRENT.tmp", build_id + "\n")
    _fsync(index_dir / "CURRENT.tmp")
    os.replace(index_dir / "CURRENT.tmp", index_dir / "CURRENT")
    _fsync(index_dir)


def prune_builds(index_dir: Path, keep: int = 2) -> None:
    """Delete partial builds and all but the newest `keep` complete ones.

    The previous build is kept so that a server still reading it is never pulled from under."""
    builds = index_dir / "builds"
    if not builds.is_dir():
        return
    current = current_build(index_dir)
    complete = sorted(p for p in builds.iterdir() if not p.name.endswith(".partial"))
    old = [p for p in complete[:-keep] if p.name != current]
    for path in [*builds.glob("*.partial"), *old]:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def writing(index_dir: Path) -> Iterator[None]:
    """A full disk, a read-only file system or a missing permission as one IndexUnwritable
    sentence, not a traceback."""
    try:
        yield
    except OSError as error:
        if error.errno not in WRITE_PROBLEMS:
            raise
        raise IndexUnwritable(f"Cannot write the index in {index_dir}: "
                              f"{WRITE_PROBLEMS[error.errno]}, then build again.") from error


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index folder; the lock dies with its process."""
    with writing(index_dir):
        index_dir.mkdir(parents=True, exist_ok=True)
        lock = open(index_dir / ".build.lock", "w")
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildInProgress(
                f"Another build of {index_dir} is running; wait for it to finish."
            ) from None
        yield


def _require_build(index_dir: Path) -> str:
    build_id = current_build(index_dir)
    if build_id is None or not (index_dir / "builds" / build_id).is_dir():
        raise IndexMissing(f"No index in {index_dir}. Run 'python -m qa_bot build' first.")
    return build_id


def _read(path: Path, reader):  # type: ignore[no-untyped-def]
    try:
        return reader(path)
    except FileNotFoundError:
        raise IndexCorrupt(f"Index file {path} is missing. {REBUILD}") from None
    except Exception as error:  # any parse failure means a damaged file
        raise IndexCorrupt(f"Index file {path} is damaged ({type(error).__name__}). "
                           f"{REBUILD}") from None


def _passage_record(passage: Passage) -> dict[str, object]:
    return {"source": passage.source, "start": passage.start, "end": passage.end,
            "text": passage.text, "sentences": [[s.start, s.end] for s in passage.sentences]}


def _read_passages(path: Path) -> list[Passage]:
    passages = []
    for record in json.loads(path.read_text(encoding="utf-8")):
        start, text = record["start"], record["text"]
        sentences = tuple(Sentence(s, e, text[s - start:e - start]) for s, e in record["sentences"])
        passages.append(Passage(record["source"], start, record["end"], text, sentences))
    return passages


def _notes_record(notes: SentenceNotes) -> list[object]:
    return [[[p.start, p.end, p.label] for p in notes.phrases], list(notes.lemmas),
            notes.is_prose]


def _read_notes(path: Path) -> list[SentenceNotes]:
    return [SentenceNotes(tuple(Phrase(*p) for p in phrases), tuple(lemmas), bool(prose))
            for phrases, lemmas, prose in json.loads(path.read_text(encoding="utf-8"))]


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
