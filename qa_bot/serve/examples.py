"""Example questions offered to readers, from corpus/examples.json.

The file is either a JSON list of questions, offered for every article, or an object mapping
a corpus file to its own list. A missing, unreadable or malformed file means no examples,
never an error: examples are an invitation, and the bot answers without them.
"""

from __future__ import annotations

import json
from pathlib import Path

MAX_EXAMPLES = 6  # more than fit in the widget's intro or above the chat box


def load_examples(corpus_dir: Path, source: str | None = None) -> list[str]:
    """The example questions for `source`, or for all articles when it is None."""
    try:
        examples = json.loads((corpus_dir / "examples.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):  # missing, a folder, unreadable
        return []
    if isinstance(examples, dict):
        lists = [examples.get(source)] if source else list(examples.values())
        examples = [e for found in lists if isinstance(found, list) for e in found]
    if not isinstance(examples, list):
        return []
    return list(dict.fromkeys(e for e in examples if isinstance(e, str) and e.strip()))[
        :MAX_EXAMPLES
    ]
