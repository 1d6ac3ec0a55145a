"""What a build records about itself (manifest.json), and whether it fits the bot in use."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib import metadata

from qa_bot.errors import IndexMismatch
from qa_bot.ingest.annotation import SPACY_PIPELINE
from qa_bot.ingest.chunking import ChunkingSettings
from qa_bot.ingest.corpus import DocumentInfo

# 2: notes.json (the sentence annotations); each file's headline, date and author; HTML
# extracted by trafilatura; 3: noun phrases ("NP") among the notes' phrases; 4: noun phrases joined
# by "of" ("a work of embroidery")
FORMAT_VERSION = 4
REBUILD = "Run 'python -m qa_bot build --full' to rebuild it."


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
    # Size and checksum of each index file; empty in builds made before they were recorded.
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
        data["index_files"] = {
            name: IndexFileRecord(**record) for name, record in data.get("index_files", {}).items()
        }
        return cls(**data)


def mismatch(
    manifest: Manifest,
    model_name: str,
    model_fingerprint: str,
    encoder: str,
    chunking: ChunkingSettings,
) -> str | None:
    """What differs between the index and the model and settings in use, or None."""
    if manifest.format_version != FORMAT_VERSION:
        return f"index format {manifest.format_version}, this version reads {FORMAT_VERSION}"
    if manifest.model_fingerprint != model_fingerprint:
        return (
            f"model {manifest.model_name} ({manifest.model_fingerprint[:19]}) but the bot "
            f"uses {model_name} ({model_fingerprint[:19]})"
        )
    if manifest.encoder != encoder:
        return (
            f"encoder {manifest.encoder[:29] or 'sentence-transformers (torch)'} but the "
            f"bot uses {encoder[:29]}"
        )
    if manifest.chunking != asdict(chunking):
        return f"chunking {manifest.chunking} but the bot uses {asdict(chunking)}"
    if manifest.annotator != annotator_version():
        return f"annotator {manifest.annotator!r} but the bot uses {annotator_version()!r}"
    return None


def check_compatible(
    manifest: Manifest,
    model_name: str,
    model_fingerprint: str,
    encoder: str,
    chunking: ChunkingSettings,
) -> None:
    difference = mismatch(manifest, model_name, model_fingerprint, encoder, chunking)
    if difference:
        raise IndexMismatch(f"The index was built with {difference}. {REBUILD}")


def annotator_version() -> str:
    """The spaCy pipeline behind the sentence notes, read from package metadata (no import)."""
    name = SPACY_PIPELINE.replace("_", "-")
    try:
        return f"{SPACY_PIPELINE} {metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return f"{SPACY_PIPELINE} (not installed)"


def package_versions() -> dict[str, str]:
    names = ("faiss-cpu", "onnxruntime", "tokenizers", "numpy", "spacy")
    return {name: metadata.version(name) for name in names}
