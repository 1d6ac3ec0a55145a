"""The commands' arguments, checked as they are parsed: a bad value is one line of usage."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from qa_bot.cli.commands import run_ask, run_build, run_eval, run_serve, run_stats, run_status


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m qa_bot",
        description="Answer readers' questions about news "
        "articles with the articles' own sentences.",
    )
    commands = parser.add_subparsers(
        title="commands", required=True, metavar="COMMAND", parser_class=ArgumentParser
    )

    build = commands.add_parser("build", help="build or update the index from the corpus")
    _paths(build, corpus=True)
    build.add_argument("--full", action="store_true", help="re-embed everything")
    build.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 0 if the index is current, 1 if stale",
    )
    build.set_defaults(run=run_build)

    status = commands.add_parser(
        "status",
        help="show the index and whether it is stale (exit 1 when an index file is damaged)",
    )
    _paths(status, corpus=True)
    status.set_defaults(run=run_status)

    ask = commands.add_parser("ask", help="answer a question ('-': one per stdin line)")
    _paths(ask)
    ask.add_argument("--json", action="store_true", help="one JSON object per answer")
    ask.add_argument("--source", help="answer from this corpus file only")
    ask.add_argument("question", metavar="QUESTION")
    ask.set_defaults(run=run_ask)

    serve = commands.add_parser("serve", help="serve the chat, the widget and the JSON API")
    _paths(serve, corpus=True)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="port (default 7860)")
    serve.add_argument(
        "--workers",
        type=_processes,
        metavar="N",
        help="processes that answer questions (default: one per core; 0: the "
        "server process answers)",
    )
    serve.set_defaults(run=run_serve)

    evaluate = commands.add_parser("eval", help="measure answer quality on known questions")
    evaluate.add_argument(
        "files",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="SQuAD 2.0 JSON, or JSONL of {question, answers, history?}; a "
        "JSONL file with its article beside it (NAME.txt) asks of that "
        "article alone; a folder means its JSONL files",
    )
    _paths(evaluate, corpus=True)
    evaluate.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="also write results.jsonl and risk-coverage.png here",
    )
    evaluate.set_defaults(run=run_eval)

    stats = commands.add_parser("stats", help="what readers asked, what was declined, feedback")
    stats.add_argument(
        "--log", type=Path, metavar="FILE", help="the question log (default var/questions.sqlite3)"
    )
    stats.add_argument("--since", type=_days, metavar="DAYS", help="only the last DAYS days")
    stats.add_argument("--source", metavar="FILE", help="only questions about this article")
    stats.add_argument("--json", action="store_true", help="one JSON object")
    stats.add_argument(
        "--report", type=Path, metavar="DIR", help="also write questions-per-day.png here"
    )
    stats.add_argument(
        "--forget",
        type=_text,
        metavar="TEXT",
        help="delete the logged questions whose text or feedback comment "
        "contains TEXT, with their feedback",
    )
    stats.set_defaults(run=run_stats)
    return parser


def _days(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"DAYS must be a whole number above 0, not {value!r}")
    return int(value)


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(
            f"PORT must be a port number from 1 to 65535, not {value!r}"
        )
    return int(value)


def _processes(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(
            f"N must be a whole number of processes (0: the server process answers), not {value!r}"
        )
    return int(value)


def _text(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("give the text of the questions to delete")
    return value


def _paths(parser: argparse.ArgumentParser, corpus: bool = False) -> None:
    if corpus:
        parser.add_argument("--corpus", type=Path, help="corpus folder (default corpus/)")
    parser.add_argument("--index", type=Path, help="index folder (default index/)")
