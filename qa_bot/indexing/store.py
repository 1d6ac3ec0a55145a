"""A build's files: load and save the passages, their vectors, the sentence vectors and notes,
and the corpus's terms. Where builds live and how one becomes current is builds.py; what a
build records about itself is manifest.py; the vector search is vectors.py.

Files of a build folder: manifest.json, passages.json, passages.faiss, sentences.npy,
notes.json (what each sentence holds: answer phrases, lemmas), terms.json and terms.npy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from qa_bot.errors import IndexCorrupt
from qa_bot.indexing.builds import file_checksum, require_build, save_build, verify_build
from qa_bot.indexing.manifest import REBUILD, IndexFileRecord, Manifest
from qa_bot.indexing.vectors import VectorIndex
from qa_bot.ingest.annotation import Phrase, SentenceNotes
from qa_bot.ingest.chunking import Passage, Sentence

INDEX_FILES = (
    "passages.json",
    "passages.faiss",
    "sentences.npy",
    "notes.json",
    "terms.json",
    "terms.npy",
)  # and manifest.json


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
        self.documents = {
            source: self.manifest.files[source].document for source in self.source_ranges
        }


def read_manifest(index_dir: Path, build_id: str | None = None) -> tuple[str, Manifest]:
    """The id and manifest of build `build_id`, by default the active one."""
    folder = require_build(index_dir, build_id)
    manifest = _read(
        folder / "manifest.json", lambda p: Manifest.from_json(p.read_text(encoding="utf-8"))
    )
    return folder.name, manifest


def load_index(index_dir: Path, build_id: str | None = None) -> StoredIndex:
    """Build `build_id` (by default the active one), checked against its manifest."""
    build_id, manifest = read_manifest(index_dir, build_id)
    verify_build(index_dir, build_id, manifest, checksums=False)
    folder = index_dir / "builds" / build_id
    passages = _read(folder / "passages.json", _read_passages)
    vectors = _read(folder / "passages.faiss", VectorIndex.read)
    sentence_vectors = _read(folder / "sentences.npy", lambda p: np.load(p, allow_pickle=False))
    sentence_count = sum(len(p.sentences) for p in passages)
    if vectors.count != len(passages) or vectors.dimension != manifest.dimension:
        raise IndexCorrupt(
            f"Index file {folder / 'passages.faiss'} does not match its passages. {REBUILD}"
        )
    if sentence_vectors.shape != (sentence_count, manifest.dimension):
        raise IndexCorrupt(
            f"Index file {folder / 'sentences.npy'} does not match its passages. {REBUILD}"
        )
    notes = _read(folder / "notes.json", _read_notes)
    if len(notes) != sentence_count:
        raise IndexCorrupt(
            f"Index file {folder / 'notes.json'} does not match its passages. {REBUILD}"
        )
    terms = _read(folder / "terms.json", lambda p: json.loads(p.read_text(encoding="utf-8")))
    term_vectors = _read(folder / "terms.npy", lambda p: np.load(p, allow_pickle=False))
    if len(term_vectors) != len(terms):
        raise IndexCorrupt(
            f"Index file {folder / 'terms.npy'} does not match terms.json. {REBUILD}"
        )
    return StoredIndex(
        build_id, manifest, passages, vectors, sentence_vectors, notes, terms, term_vectors
    )


def save_index(
    index_dir: Path,
    manifest: Manifest,
    passages: list[Passage],
    passage_vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    notes: list[SentenceNotes],
    terms: list[str],
    term_vectors: np.ndarray,
) -> str:
    """Write a complete build and make it current (builds.save_build). Returns its id.

    The manifest is written last, with the vector index's kind and every file's size and
    checksum."""

    def write(folder: Path) -> None:
        vectors = VectorIndex.build(passage_vectors)
        vectors.write(folder / "passages.faiss")
        np.save(folder / "sentences.npy", sentence_vectors)
        _write(folder / "passages.json", json.dumps([_passage_record(p) for p in passages]))
        _write(folder / "notes.json", json.dumps([_notes_record(n) for n in notes]))
        _write(folder / "terms.json", json.dumps(terms))
        np.save(folder / "terms.npy", term_vectors)
        records = {
            name: IndexFileRecord((folder / name).stat().st_size, file_checksum(folder / name))
            for name in INDEX_FILES
        }
        _write(
            folder / "manifest.json",
            replace(manifest, index_type=vectors.kind, index_files=records).to_json(),
        )

    return save_build(index_dir, write)


def _read(path: Path, reader):  # type: ignore[no-untyped-def]
    try:
        return reader(path)
    except FileNotFoundError as error:
        raise IndexCorrupt(f"Index file {path} is missing. {REBUILD}") from error
    except Exception as error:  # any parse failure means a damaged file
        raise IndexCorrupt(
            f"Index file {path} is damaged ({type(error).__name__}). {REBUILD}"
        ) from error


def _passage_record(passage: Passage) -> dict[str, object]:
    return {
        "source": passage.source,
        "start": passage.start,
        "end": passage.end,
        "text": passage.text,
        "sentences": [[s.start, s.end] for s in passage.sentences],
    }


def _read_passages(path: Path) -> list[Passage]:
    passages = []
    for record in json.loads(path.read_text(encoding="utf-8")):
        start, text = record["start"], record["text"]
        sentences = tuple(
            Sentence(s, e, text[s - start : e - start]) for s, e in record["sentences"]
        )
        passages.append(Passage(record["source"], start, record["end"], text, sentences))
    return passages


def _notes_record(notes: SentenceNotes) -> list[object]:
    return [[[p.start, p.end, p.label] for p in notes.phrases], list(notes.lemmas), notes.is_prose]


def _read_notes(path: Path) -> list[SentenceNotes]:
    return [
        SentenceNotes(tuple(Phrase(*p) for p in phrases), tuple(lemmas), bool(prose))
        for phrases, lemmas, prose in json.loads(path.read_text(encoding="utf-8"))
    ]


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
