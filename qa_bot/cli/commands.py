"""What each command does, once its arguments are parsed: each `run_*` returns the exit code."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from qa_bot.config import Settings
from qa_bot.errors import QABotError

if TYPE_CHECKING:
    from qa_bot.indexing.build import CorpusState


RELATED_PREVIEW_CHARS = 160


def run_build(args: argparse.Namespace, settings: Settings) -> int:
    from qa_bot.indexing.build import build_index, corpus_state

    if args.check:
        state = corpus_state(settings.corpus_dir, settings.index_dir, settings.model_path)
        print(_state_line(state), file=sys.stderr)
        return 0 if state.is_current else 1
    summary = build_index(
        settings.corpus_dir,
        settings.index_dir,
        settings.model_path,
        full=args.full,
        on_progress=_progress_bar("embedding"),
    )
    for skipped in summary.skipped:
        print(f"warning: skipped {skipped.source}: it {skipped.reason}", file=sys.stderr)
    if summary.reason and summary.rebuilt:
        print(f"rebuilt everything: {summary.reason}", file=sys.stderr)
    print(summary.line(), file=sys.stderr)
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    from qa_bot.indexing.build import corpus_state

    state = corpus_state(settings.corpus_dir, settings.index_dir, settings.model_path)
    manifest = state.previous
    if manifest is None:
        print(f"error: {state.reason}", file=sys.stderr)
        return 1
    skipped = sum(1 for record in manifest.files.values() if record.skipped)
    print(f"index:    {settings.index_dir} (build {state.build_id}, {manifest.index_type} search)")
    print(
        f"model:    {manifest.model_name} ({manifest.model_fingerprint[:19]}…, "
        f"{manifest.dimension} dimensions)"
    )
    print(f"built at: {manifest.built_at}")
    print(f"files:    {len(manifest.sources)} indexed, {skipped} skipped")
    print(f"passages: {sum(r.passages for r in manifest.files.values())}")
    print(f"state:    {_state_line(state)}")
    return 1 if state.damaged else 0


def _state_line(state: CorpusState) -> str:
    if state.reason:
        return f"stale: {state.reason}"
    _, changed, added, removed = state.diff()
    if state.is_current:
        return "current: the index matches the corpus"
    return (
        f"stale: {len(changed)} changed, {len(added)} added, {len(removed)} removed "
        "(run 'python -m qa_bot build')"
    )


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    from qa_bot.answer.ask_request import parse_ask_request
    from qa_bot.answer.bot import QABot

    bot = QABot.from_settings(settings)
    if args.question != "-":
        request = parse_ask_request({"question": args.question, "source": args.source})
        answer = bot.ask(request.question, request.turns, request.source)
        _print_answer(answer.to_dict(), args.json, sys.stdout)
        return 0
    failures = 0
    # A byte-order mark (Windows editors write one) is not part of the first question; bytes
    # that are not UTF-8 fail their line only.
    sys.stdin.reconfigure(encoding="utf-8-sig", errors="surrogateescape")  # type: ignore[union-attr]
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        question = None
        try:
            data = _read_line(line, args.source)
            question = data.get("question") if isinstance(data, dict) else None
            request = parse_ask_request(data)
            answer = bot.ask(request.question, request.turns, request.source)
        except QABotError as error:
            failures += 1
            print(f"error: line {number}: {error}", file=sys.stderr)
            if args.json:
                print(json.dumps({"question": question, "error": str(error)}), flush=True)
            continue
        if not args.json:  # which question this answers; JSON has it in "question"
            print(f"? {request.question}")
        _print_answer(answer.to_dict(), args.json, sys.stdout)
        sys.stdout.flush()
    return 1 if failures else 0


def _read_line(line: str, source: str | None) -> object:
    """A stdin line as request data: a JSON object when it starts with "{" (the --source
    option fills in a missing source), else the line is the question."""
    from qa_bot.answer.ask_request import NOT_JSON
    from qa_bot.errors import InvalidQuestion

    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # the bytes stdin could not decode
        raise InvalidQuestion("The line is not UTF-8 text; save the questions as UTF-8.") from None
    if not line.lstrip().startswith("{"):
        return {"question": line.strip(), "source": source}

    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        raise InvalidQuestion(NOT_JSON) from None
    if isinstance(data, dict) and source is not None:
        data.setdefault("source", source)
    return data


def _print_answer(answer: dict, as_json: bool, out: TextIO) -> None:  # type: ignore[type-arg]
    if as_json:
        print(json.dumps(answer, ensure_ascii=False), file=out)
        return
    if answer["short_answer"]:
        print(f"» {answer['short_answer']['text']}", file=out)
    print(answer["answer"], file=out)
    for citation in answer["citations"]:
        print(f"\n[{citation['n']}] {_place(citation)}", file=out)
        print(f"    “{citation['quote']}”", file=out)
    if not answer["answered"] and answer["related"]:
        print("\nRelated in the article (not an answer):", file=out)
        for passage in answer["related"]:
            print(f"  - {_place(passage)}", file=out)
            print(f"    {textwrap.shorten(passage['text'], RELATED_PREVIEW_CHARS)}", file=out)
    print(file=out)


def _place(citation: dict) -> str:  # type: ignore[type-arg]
    """Where a passage is: its document's headline (or file), and its characters."""
    return (
        f"{citation['title'] or citation['source']} ({citation['source']}, characters "
        f"{citation['start']}–{citation['end']})"
    )


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    from qa_bot.indexing.build import build_index, has_index
    from qa_bot.serve.app import bound_socket, serve

    listener = bound_socket(settings.host, settings.port)  # a port in use, before any build
    if not has_index(settings.index_dir):  # so that the first run of the chat just works
        print(
            f"No index yet in {settings.index_dir}; building it from the articles in "
            f"{settings.corpus_dir}.",
            file=sys.stderr,
            flush=True,
        )
        print(
            build_index(settings.corpus_dir, settings.index_dir, settings.model_path).line(),
            file=sys.stderr,
            flush=True,
        )
    serve(settings, listener)
    return 0


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    import tempfile

    from qa_bot.answer.bot import QABot
    from qa_bot.answer.reader import Reader
    from qa_bot.encoder.embedding import Embedder
    from qa_bot.evaluation.questions import load_sets
    from qa_bot.evaluation.report import article_table, by_article, summarise, write_report
    from qa_bot.evaluation.scoring import evaluate
    from qa_bot.indexing.build import build_index

    sets = load_sets(args.files)
    if args.report:  # a folder that cannot be made fails now, not after the evaluation
        args.report.mkdir(parents=True, exist_ok=True)
    embedder = Embedder.load(settings.model_path)
    reader = Reader()
    results = []
    with tempfile.TemporaryDirectory(prefix="qa_bot-eval-") as scratch:
        for number, question_set in enumerate(sets):
            index_dir = settings.index_dir
            work = Path(scratch) / str(number)
            if question_set.articles is not None:  # its own articles, indexed alone
                corpus_dir: Path | None = _write_articles(question_set.articles, work / "corpus")
            else:  # the corpus chosen by --corpus or QA_BOT_CORPUS, or else the index as it is
                chosen = args.corpus is not None or settings.corpus_dir != Settings.corpus_dir
                corpus_dir = settings.corpus_dir if chosen else None
            if corpus_dir is not None:
                index_dir = work / "index"
                build_index(corpus_dir, index_dir, settings.model_path, embedder=embedder)
            results += evaluate(
                QABot(index_dir, embedder, reader=reader),
                question_set.cases,
                article=question_set.name,
            )
    report = summarise(results)
    print(report.table())
    articles = by_article(results)
    if len(articles) > 1:
        print("\nper article\n" + article_table(articles))
    if args.report:
        for path in write_report(results, report, args.report, reader.calibration.decline_below):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _write_articles(articles: dict[str, str], folder: Path) -> Path:
    """A corpus folder holding just these articles."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def run_stats(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import datetime, timedelta

    from qa_bot.errors import ConfigError
    from qa_bot.questionlog.log import QuestionLog
    from qa_bot.questionlog.stats import printable, summarise, write_chart

    path = settings.log_path
    if path is None:
        raise ConfigError("The question log is off (QA_BOT_LOG=off); pass --log FILE to read one.")
    if not path.is_file():
        raise ConfigError(
            f"No question log at {path}: the server writes it when readers ask; "
            "pass --log FILE to read another."
        )
    if args.report:  # a folder that cannot be made fails now, not after the figures
        args.report.mkdir(parents=True, exist_ok=True)
    log = QuestionLog(path)
    if args.forget is not None:
        deleted = log.forget(args.forget)
        print(
            f"deleted {deleted} questions whose text or feedback contains "
            f"{printable(args.forget)!r}, and their feedback",
            file=sys.stderr,
        )
        return 0
    since = datetime.now(UTC) - timedelta(days=args.since) if args.since else None
    stats = summarise(log.questions(since, args.source))
    if args.json:
        print(json.dumps(stats.to_dict(), ensure_ascii=False))
    else:
        print(stats.text(), end="")
    if args.report:
        print(f"wrote {write_chart(stats, args.report)}", file=sys.stderr)
    return 0


def _progress_bar(label: str):  # type: ignore[no-untyped-def]
    """A tqdm bar on stderr, silent when stderr is not a terminal."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(
                total=total, desc=label, unit="text", file=sys.stderr, disable=None, leave=False
            )
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update
