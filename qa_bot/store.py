"""The index on disk: the only module that imports faiss.

Layout of the index folder:
    CURRENT               the name of the active build, replaced atomically
    builds/<id>/          manifest.json, passages.json, passages.faiss, sentences.npy
A build is written to `builds/<id>.partial`, renamed when complete, and only then named in
CURRENT. A build killed at any moment leaves the previous index loadable.
"""
from __future__ import annotations

import contextlib
import fcntl
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

from .chunking import ChunkingSettings, Passage, Sentence
from .corpus import DocumentInfo, title_line
from .errors import BuildInProgress, IndexCorrupt, IndexMismatch, IndexMissing

FORMAT_VERSION = 1
# Exact search up to this many passages, IVF beyond. Exact search costs about 1 ms per 1,000
# passages a query here; IVF at 1 million passages about 1-4 ms (BENCHMARKS.md).
EXACT_SEARCH_LIMIT = 100_000
IVF_PROBES = 32
REBUILD = "Run 'python -m qa_bot build --full' to rebuild it."


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    passages: int = 0
    skipped: str = ""  # why the file was skipped; empty when it was indexed


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
    encoder: str = ""  # how texts were encoded: kind and artifact hash (embedding.py)
    packages: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @property
    def sources(self) -> list[str]:
        return [source for source, record in self.files.items() if not record.skipped]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> Manifest:
        data = json.loads(raw)
        data["files"] = {s: FileRecord(**r) for s, r in data["files"].items()}
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
    return None


def check_compatible(manifest: Manifest, model_name: str, model_fingerprint: str, encoder: str,
                     chunking: ChunkingSettings) -> None:
    difference = mismatch(manifest, model_name, model_fingerprint, encoder, chunking)
    if difference:
        raise IndexMismatch(f"The index was built with {difference}. {REBUILD}")


def package_versions() -> dict[str, str]:
    names = ("faiss-cpu", "onnxruntime", "tokenizers", "numpy")
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

    def __post_init__(self) -> None:
        self.source_ranges: dict[str, tuple[int, int]] = {}
        for number, passage in enumerate(self.passages):
            first, _ = self.source_ranges.get(passage.source, (number, number))
            self.source_ranges[passage.source] = (first, number + 1)
        self.sentence_offsets = np.cumsum([0] + [len(p.sentences) for p in self.passages])
        self.documents = {source: DocumentInfo(title_line(self.passages[first].text))
                          for source, (first, _) in self.source_ranges.items()}


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


def load_index(index_dir: Path) -> StoredIndex:
    build_id, manifest = read_manifest(index_dir)
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
    return StoredIndex(build_id, manifest, passages, vectors, sentence_vectors)


def save_index(index_dir: Path, manifest: Manifest, passages: list[Passage],
               passage_vectors: np.ndarray, sentence_vectors: np.ndarray) -> str:
    """Write a complete build, then make it current in one atomic step. Returns its id."""
    builds = index_dir / "builds"
    build_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}"
    partial = builds / f"{build_id}.partial"
    partial.mkdir(parents=True)
    vectors = VectorIndex.build(passage_vectors)
    manifest = replace(manifest, index_type=vectors.kind)
    faiss.write_index(vectors.index, str(partial / "passages.faiss"))
    np.save(partial / "sentences.npy", sentence_vectors)
    _write(partial / "passages.json", json.dumps([_passage_record(p) for p in passages]))
    _write(partial / "manifest.json", manifest.to_json())
    for path in partial.iterdir():
        _fsync(path)
    os.rename(partial, builds / build_id)
    _write(index_dir / "CURRENT.tmp", build_id + "\n")
    _fsync(index_dir / "CURRENT.tmp")
    os.replace(index_dir / "CURRENT.tmp", index_dir / "CURRENT")
    _fsync(index_dir)
    return build_id


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
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index folder; the lock dies with its process."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".build.lock", "w") as lock:
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


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
