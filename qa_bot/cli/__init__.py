"""The command line: build | status | ask | serve | eval | stats.

Thin: it parses arguments (`arguments`), calls the package (`commands`), and turns a QABotError
into one line on stderr and exit code 1 (2 for bad usage). Data goes to stdout, progress and
messages to stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from qa_bot.cli.arguments import parser
from qa_bot.config import Settings
from qa_bot.errors import QABotError


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env(
            corpus_dir=getattr(args, "corpus", None),
            index_dir=getattr(args, "index", None),
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            workers=getattr(args, "workers", None),
            log_path=getattr(args, "log", None),
        )
        return int(args.run(args, settings) or 0)
    except QABotError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout stopped early (| head): not an error of ours
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  so the exit-time flush stays quiet
        return 0
    except OSError as error:  # a path that cannot be used ("--report /etc/passwd/x"), a full disk
        print(f"error: {_os_problem(error)}", file=sys.stderr)
        return 1


def _os_problem(error: OSError) -> str:
    """An error of the operating system as one sentence, with what to do where that is known."""
    from qa_bot.indexing.builds import WRITE_PROBLEMS

    where = f"{error.filename}: " if error.filename else ""
    if error.errno in WRITE_PROBLEMS:
        return f"{where}{WRITE_PROBLEMS[error.errno]}."
    if error.filename:
        return f"{where}{error.strerror}; check the path, then try again."
    return f"{error.strerror or error}."
