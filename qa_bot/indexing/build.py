"""The write path: corpus files -> passages -> vectors -> a new index build.

Incremental: passages and vectors of files whose content hash is unchanged are copied from the
previous build, provided it was made with the same model, encoder and chunking settings. When
nothing changed at all the encoder is never loaded. The first build of a model exports it to
ONNX (embedding.ensure_encoder).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from qa_bot.encoder.embedding import (
    Embedder,
    Progress,
    ensure_encoder,
    exported_encoder,
    model_name,
)
from qa_bot.errors import CorpusError, IndexCorrupt, IndexMissing
from qa_bot.indexing import builds, store
from qa_bot.indexing.manifest import (
    FileRecord,
    Manifest,
    annotator_version,
    mismatch,
    package_versions,
)
from qa_bot.ingest.annotation import SentenceNotes, annotate
from qa_bot.ingest.chunking import DEFAULT_CHUNKING, ChunkingSettings, Passage, chunk_document
from qa_bot.ingest.corpus import CorpusFile, Document, SkippedFile, read_document, scan_corpus


@dataclass(frozen=True)
class BuildSummary:
    unchanged: int = 0
    changed: int = 0
    added: int = 0
    removed: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    passages: int = 0
    embedded: int = 0
    seconds: float = 0.0
    rebuilt: bool = True
    reason: str = ""  # why earlier work could not be reused, when it could not

    @property
    def files(self) -> int:
        return self.unchanged + self.changed + self.added

    def line(self) -> str:
        counts = (
            f"{self.unchanged} unchanged, {self.changed} changed, {self.added} added, "
            f"{self.removed} removed"
        )
        if self.skipped:
            counts += f", {len(self.skipped)} skipped"
        if not self.rebuilt:
            return f"{counts}: index is up to date ({self.passages} passages), {self.seconds:.1f} s"
        return (
            f"{counts}: {self.embedded} passages embedded, {self.passages} in the index, "
            f"in {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class CorpusState:
    """How the corpus compares with the current index."""

    files: list[CorpusFile]
    previous: Manifest | None
    build_id: str | None
    reason: str  # why the previous build cannot be reused; empty when it can
    damaged: bool = False  # an index file differs from what its build wrote

    def diff(self) -> tuple[list[str], list[str], list[str], list[str]]:
        """(unchanged, changed, added, removed) sources."""
        before = self.previous.files if self.previous and not self.reason else {}
        now = {f.source: f.sha256 for f in self.files}
        unchanged = [s for s, h in now.items() if s in before and before[s].sha256 == h]
        changed = [s for s, h in now.items() if s in before and before[s].sha256 != h]
        added = [s for s in now if s not in before]
        removed = [s for s in before if s not in now]
        return unchanged, changed, added, removed

    @property
    def is_current(self) -> bool:
        _, changed, added, removed = self.diff()
        return not self.reason and not (changed or added or removed)


def corpus_state(
    corpus_dir: Path,
    index_dir: Path,
    model_path: str,
    chunking: ChunkingSettings = DEFAULT_CHUNKING,
) -> CorpusState:
    """Compare the corpus with the index without loading the model or the vectors; the index
    files are checked against the sizes and checksums their build recorded."""
    files = scan_corpus(corpus_dir)
    try:
        build_id, previous = store.read_manifest(index_dir)
    except (IndexMissing, IndexCorrupt) as error:
        return CorpusState(files, None, None, str(error), damaged=isinstance(error, IndexCorrupt))
    try:
        builds.verify_build(index_dir, build_id, previous, checksums=True)
    except IndexCorrupt as error:
        return CorpusState(files, previous, build_id, str(error), damaged=True)
    encoder = exported_encoder(model_path)
    if encoder is None:
        return CorpusState(
            files,
            previous,
            build_id,
            f"the model {model_name(model_path)} is "
            "not exported to ONNX yet ('python -m qa_bot build' does it)",
        )
    difference = mismatch(
        previous, model_name(model_path), encoder.model_fingerprint, encoder.encoder, chunking
    )
    reason = f"the index was built with {difference}" if difference else ""
    return CorpusState(files, previous, build_id, reason)


def has_index(index_dir: Path) -> bool:
    return builds.current_build(index_dir) is not None


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    model_path: str,
    *,
    full: bool = False,
    chunking: ChunkingSettings = DEFAULT_CHUNKING,
    embedder: Embedder | None = None,
    on_progress: Progress | None = None,
) -> BuildSummary:
    """Bring the index in `index_dir` up to date with `corpus_dir`."""
    began = time.perf_counter()
    encoder = ensure_encoder(model_path)
    with builds.build_lock(index_dir):
        builds.prune_builds(index_dir)  # what a failed build left must not fill the disk for good
        state = corpus_state(corpus_dir, index_dir, model_path, chunking)
        if full:
            state = CorpusState(state.files, None, None, "a full rebuild was asked for")
        unchanged, changed, added, removed = state.diff()
        if state.is_current:
            assert state.previous is not None
            kept = [SkippedFile(s, r.skipped) for s, r in state.previous.files.items() if r.skipped]
            return BuildSummary(
                _indexed(unchanged, kept),
                0,
                0,
                0,
                kept,
                sum(r.passages for r in state.previous.files.values()),
                0,
                time.perf_counter() - began,
                rebuilt=False,
            )
        previous = store.load_index(index_dir) if state.previous and not state.reason else None
        reused = set(unchanged)
        fresh: list[Document] = []
        skipped: list[SkippedFile] = []
        for file in state.files:
            if file.source in reused:
                record = previous.manifest.files[file.source] if previous else None
                if record and record.skipped:
                    skipped.append(SkippedFile(file.source, record.skipped))
                continue
            document = read_document(file)
            if isinstance(document, SkippedFile):
                skipped.append(document)
            else:
                fresh.append(document)
        if len(skipped) == len(state.files):
            reasons = "; ".join(f"{s.source} {s.reason}" for s in skipped)
            raise CorpusError(f"No readable article in {corpus_dir} ({reasons}); add UTF-8 text.")

        new_passages = {d.source: chunk_document(d.source, d.text, chunking) for d in fresh}
        new_notes = {d.source: annotate(d.text, new_passages[d.source]) for d in fresh}
        new_vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if fresh:
            embedder = embedder or Embedder.load(model_path)
            new_vectors = _embed(embedder, new_passages, on_progress)

        passages: list[Passage] = []
        passage_vectors, sentence_vectors = [], []
        notes: list[SentenceNotes] = []
        files: dict[str, FileRecord] = {}
        skipped_by_source = {s.source: s for s in skipped}
        documents = {d.source: d.info for d in fresh}
        for file in state.files:
            if file.source in skipped_by_source:
                files[file.source] = FileRecord(
                    file.sha256, 0, skipped_by_source[file.source].reason
                )
                continue
            if file.source in new_passages:
                chunks = new_passages[file.source]
                vectors, sentences = new_vectors[file.source]
                notes.extend(n for group in new_notes[file.source] for n in group)
                info = documents[file.source]
            else:
                assert previous is not None
                chunks, vectors, sentences, reused_notes = _reuse(previous, file.source)
                notes.extend(reused_notes)
                info = previous.documents[file.source]
            passages.extend(chunks)
            passage_vectors.append(vectors)
            sentence_vectors.append(sentences)
            files[file.source] = FileRecord(
                file.sha256, len(chunks), "", info.title, info.published, info.author
            )

        manifest = Manifest(
            model_name=model_name(model_path),
            model_fingerprint=encoder.model_fingerprint,
            model_weights=encoder.model_weights,
            encoder=encoder.encoder,
            dimension=passage_vectors[0].shape[1],
            chunking=asdict(chunking),
            files=files,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            packages=package_versions(),
            annotator=annotator_version(),
        )
        terms = vocabulary(notes)
        store.save_index(
            index_dir,
            manifest,
            passages,
            np.vstack(passage_vectors),
            np.vstack(sentence_vectors),
            notes,
            terms,
            _term_vectors(terms, previous, embedder, model_path),
        )
        builds.prune_builds(index_dir)
        embedded = sum(len(p) for p in new_passages.values())
        return BuildSummary(
            _indexed(unchanged, skipped),
            _indexed(changed, skipped),
            _indexed(added, skipped),
            len(removed),
            skipped,
            len(passages),
            embedded,
            time.perf_counter() - began,
            reason=state.reason if state.previous or full else "",
        )


def vocabulary(notes: list[SentenceNotes]) -> list[str]:
    """Every content lemma of the corpus, once: what a question's unknown words are compared
    with (grounding's close semantic match, "wounded" ~ "casualties")."""
    return sorted({lemma for n in notes for lemma in n.lemmas if lemma.isalpha()})


def _term_vectors(
    terms: list[str], previous: store.StoredIndex | None, embedder: Embedder | None, model_path: str
) -> np.ndarray:
    """Vectors of the vocabulary: the previous build's where it had them, the rest encoded."""
    known = dict(zip(previous.terms, previous.term_vectors)) if previous else {}
    missing = [t for t in terms if t not in known]
    if missing:
        embedder = embedder or Embedder.load(model_path)
        known.update(zip(missing, embedder.encode(missing)))
    if not terms:
        return np.zeros((0, 1), dtype=np.float32)
    return np.vstack([known[t] for t in terms]).astype(np.float32)


def _embed(
    embedder: Embedder, passages: dict[str, list[Passage]], on_progress: Progress | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Passage and sentence vectors per source, encoded in one pass over all texts."""
    texts: list[str] = []
    for chunks in passages.values():
        texts.extend(p.text for p in chunks)
        texts.extend(s.text for p in chunks for s in p.sentences)
    vectors = embedder.encode(texts, on_progress)
    result, row = {}, 0
    for source, chunks in passages.items():
        sentence_count = sum(len(p.sentences) for p in chunks)
        passage_rows = vectors[row : row + len(chunks)]
        row += len(chunks)
        result[source] = (passage_rows, vectors[row : row + sentence_count])
        row += sentence_count
    return result


def _indexed(sources: list[str], skipped: list[SkippedFile]) -> int:
    """How many of `sources` are in the index: a skipped file counts as skipped only."""
    unread = {s.source for s in skipped}
    return sum(1 for source in sources if source not in unread)


def _reuse(
    previous: store.StoredIndex, source: str
) -> tuple[list[Passage], np.ndarray, np.ndarray, list[SentenceNotes]]:
    start, end = previous.source_ranges[source]
    first, last = previous.sentence_offsets[start], previous.sentence_offsets[end]
    return (
        previous.passages[start:end],
        previous.vectors.vectors(start, end),
        previous.sentence_vectors[first:last],
        previous.sentence_notes[first:last],
    )
