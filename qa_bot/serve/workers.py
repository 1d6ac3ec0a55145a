"""Answering in worker processes, so that one server uses every core.

Python runs one thread at a time per process (the GIL): in one process, HTTP and answering
shared about one core however many readers asked (BENCHMARKS.md, section E). A PooledBot keeps
in the server process what must be in one place (HTTP, the guards, the chat's sessions, the
answer cache, the question log) and hands each question the cache cannot answer to the worker
process with the fewest questions in hand. Each worker holds its own QABot, encoder and index,
picks up a new build as any QABot does (on its next question), and answers with several
threads, so that questions it holds at the same moment are encoded in one call.

Workers are started with "spawn" (a fresh interpreter: the server runs threads, which fork
would copy half-way) and are ready before the server listens. They ignore Ctrl-C and SIGTERM:
the server finishes the requests it holds, then tells them to stop (close()); should the
server die without that, its end of the pipe closes and they exit.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import multiprocessing
import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection

from qa_bot.answer.bot import QABot
from qa_bot.answer.question import Turn
from qa_bot.answer.result import Answer
from qa_bot.config import Settings, set_environment_defaults
from qa_bot.encoder.embedding import Embedder
from qa_bot.errors import QABotError

log = logging.getLogger("qa_bot")
# How long workers may take to load the encoder and the index (about 2 s on a quiet machine).
START_SECONDS = 120
STOP_SECONDS = 30  # to finish the questions a worker holds when the server stops
# Questions one worker answers at once: while one thread encodes (onnxruntime releases the GIL)
# the others gather behind it, and QueryBatcher encodes them together.
WORKER_THREADS = 16
# A worker's numpy (OpenBLAS) and faiss (OpenMP) run one thread each: workers already share the
# cores, and an idle pool thread spinning cost 1.6 ms of CPU per answer (BENCHMARKS.md, E).
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
READY = -1  # the message number of a worker's "loaded, ready to answer"
GONE = "The process answering this question stopped; ask again."

Request = tuple[str, tuple[Turn, ...], str | None]  # question, history, source


class WorkerGone(QABotError):
    status = 503


class PooledBot(QABot):
    """A QABot whose uncached answers come from `processes` worker processes."""

    def __init__(self, settings: Settings, processes: int) -> None:
        super().__init__(
            settings.index_dir, Embedder.load(settings.model_path), require_index=False
        )
        self.settings = settings
        self._lock = threading.Lock()
        set_environment_defaults(ONE_THREAD)  # read by the workers, spawned with them
        self._workers = [Worker(settings) for _ in range(processes)]
        # Before multiprocessing's own exit handler, which would wait for them forever.
        atexit.register(self.close)
        for worker in self._workers:
            worker.wait_until_ready()

    def answer_afresh(
        self, question: str, history: tuple[Turn, ...], source: str | None
    ) -> tuple[str, Answer]:
        try:
            return self._least_busy().ask((question, history, source)).result()
        except WorkerGone:  # killed, out of memory: its replacement is started; one more try
            return self._least_busy().ask((question, history, source)).result()

    def _least_busy(self) -> Worker:
        with self._lock:
            for n, worker in enumerate(self._workers):
                if not worker.alive:
                    log.error(
                        "A worker process ended (exit code %s); starting another.",
                        worker.process.exitcode,
                    )
                    self._workers[n] = Worker(self.settings)
            return min(self._workers, key=lambda worker: len(worker.waiting))

    def close(self) -> None:
        """Stop the workers once they have answered what they hold (again: nothing to do)."""
        with self._lock:
            for worker in self._workers:
                worker.stop()


class Worker:
    """One answering process, and the server's end of the pipe to it."""

    def __init__(self, settings: Settings) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, theirs = context.Pipe()
        self.process = context.Process(
            target=serve_questions, args=(theirs, settings), name="qa_bot-worker"
        )
        self.process.start()
        theirs.close()  # so that the worker's end closes when the worker ends
        self.alive = True
        self.waiting: dict[int, Future[tuple[str, Answer]]] = {READY: Future()}
        self._ready = self.waiting[READY]
        self._numbers = itertools.count()
        self._send_lock = threading.Lock()
        threading.Thread(target=self._receive, daemon=True, name="qa_bot-worker-answers").start()

    def wait_until_ready(self) -> None:
        try:
            self._ready.result(timeout=START_SECONDS)
        except WorkerGone:
            raise QABotError(
                f"A worker process could not start (exit code "
                f"{self.process.exitcode}); its error is above."
            ) from None

    def ask(self, request: Request) -> Future[tuple[str, Answer]]:
        future: Future[tuple[str, Answer]] = Future()
        with self._send_lock:
            if self.alive:
                number = next(self._numbers)
                self.waiting[number] = future
                try:
                    self.connection.send((number, request))
                    return future
                except OSError:
                    self.waiting.pop(number, None)
        future.set_exception(WorkerGone(GONE))
        return future

    def _receive(self) -> None:
        try:
            while True:
                number, outcome, failed = self.connection.recv()
                future = self.waiting.pop(number)
                if failed:
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
        except (EOFError, OSError):
            with self._send_lock:  # no question is handed to it after this
                self.alive = False
                unanswered = list(self.waiting.values())
                self.waiting.clear()
            for future in unanswered:
                future.set_exception(WorkerGone(GONE))

    def stop(self) -> None:
        with self._send_lock:
            try:
                self.connection.send(None)
            except OSError:
                pass
        self.process.join(STOP_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def serve_questions(connection: Connection, settings: Settings) -> None:
    """A worker process: answer each question received until told to stop (None) or until the
    server's end of the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the server decides when workers stop
    bot = QABot.from_settings(settings, require_index=False)
    _ = bot.embedder.session  # the encoder loaded before the worker says it is ready
    send_lock = threading.Lock()

    def answer(number: int, request: Request) -> None:
        try:
            outcome: object = bot.answer_afresh(*request)
            failed = False
        except QABotError as error:
            outcome, failed = error, True
        except Exception:  # noqa: BLE001 - logged here; the server answers 500
            log.exception("Answering %r failed", request[0])
            outcome, failed = RuntimeError("answering failed in a worker process"), True
        with send_lock:
            connection.send((number, outcome, failed))

    with ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="qa_bot-answer") as threads:
        connection.send((READY, None, False))
        while True:
            try:
                message = connection.recv()
            except EOFError:
                return
            if message is None:
                return  # leaving the with block waits for the questions in hand
            threads.submit(answer, *message)
