"""The server answers in worker processes (qa_bot/serve/workers.py): a real `python -m qa_bot serve`
with two workers, asked over HTTP. Which process answered is read from /proc: a worker that
answers reads its question from the pipe (and the index's CURRENT file); an idle one reads
nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from qa_bot.config import Settings, bundled_model_path
from qa_bot.encoder.embedding import Embedder
from qa_bot.errors import ConfigError
from qa_bot.indexing.build import build_index
from tests.support import ROOT, first_health, free_port

WORKERS = 2
NEW_FILE = "harbour.txt"
NEW_ARTICLE = (
    "Harbour notes\n\nThe lighthouse of Port Elsworth was painted bright green in "
    "1921 by the harbour master, Agnes Tolley.\n"
)


def reader(n: int) -> str:
    """A reader's name made of letters ("ba"): a number in a question would have to be in the
    article for the bot to answer."""
    return "abcdefghij"[n // 10 % 10] + "abcdefghij"[n % 10]


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def bytes_read(pid: int) -> int:
    fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(fields["rchar"])


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@contextmanager
def server(index: Path, log: Path, **popen: object) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "QA_BOT_WORKERS": str(WORKERS),
        "QA_BOT_RATE_LIMIT": "10000/minute",
        "QA_BOT_LOG": str(log.parent / "questions.sqlite3"),
    }
    with open(log, "w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qa_bot",
                "serve",
                "--port",
                str(port),
                "--index",
                str(index),
                "--corpus",
                str(index.parent / "corpus"),
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
            **popen,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        # The port opens once the server and its workers have loaded the index.
        assert first_health(url, process, log, seconds=180).status_code == 200
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def workers_of(process: subprocess.Popen) -> list[int]:
    return [pid for pid in children(process.pid) if "spawn_main" in command_line(pid)]


def ask_many(url: str, questions: list[str]) -> list[httpx.Response]:
    with httpx.Client(timeout=60) as client, ThreadPoolExecutor(8) as threads:
        return list(
            threads.map(lambda q: client.post(f"{url}/api/ask", json={"question": q}), questions)
        )


def wait_until_gone(pids: list[int]) -> list[int]:
    """The processes still running after up to 30 s (never waits longer than needed)."""
    deadline = time.monotonic() + 30
    while any(not gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if not gone(pid)]


def test_the_workers_answer_pick_up_a_new_build_and_stop_with_the_server(
    article_index: Path, embedder: Embedder, tmp_path: Path
) -> None:
    shutil.copytree(article_index.parent / "corpus", tmp_path / "corpus")
    shutil.copytree(article_index, tmp_path / "index")
    with server(tmp_path / "index", tmp_path / "server.log") as (process, url):
        workers = workers_of(process)
        assert len(workers) == WORKERS and process.pid not in workers

        before = {pid: bytes_read(pid) for pid in workers}
        answers = ask_many(
            url,
            [
                f"How many North Korean special forces arrived in Vladivostok? (reader {reader(n)})"
                for n in range(40)
            ],
        )
        assert all(a.status_code == 200 and a.json()["answered"] for a in answers)
        assert len({a.json()["id"] for a in answers}) == len(answers)
        assert all(bytes_read(pid) > before[pid] for pid in workers), (
            "every worker process answers some of the questions asked at once"
        )

        # A new build, with an article the old one lacks: every worker answers from it.
        (tmp_path / "corpus" / NEW_FILE).write_text(NEW_ARTICLE, encoding="utf-8")
        build_index(
            tmp_path / "corpus", tmp_path / "index", bundled_model_path(), embedder=embedder
        )
        questions = [
            f"What colour was the lighthouse of Port Elsworth painted? (reader "
            f"{reader(n)}{reader(round)})"
            for round in range(100)
            for n in range(40)
        ]
        for round in range(100):  # while a worker loads the new build, the old one answers
            answers = ask_many(url, questions[round * 40 : round * 40 + 40])
            if all(a.json()["answered"] for a in answers):
                break
        before = {pid: bytes_read(pid) for pid in workers}
        answers = ask_many(url, questions[-40:])
        assert all(a.status_code == 200 for a in answers)
        assert all(
            a.json()["answered"]
            and a.json()["citations"][0]["source"] == NEW_FILE
            and "green" in a.json()["answer"]
            for a in answers
        )
        assert all(bytes_read(pid) > before[pid] for pid in workers)
        assert NEW_FILE in httpx.get(f"{url}/api/health").json()["sources"]

        # SIGTERM while questions are being asked: every answer given is whole, then the
        # server and its workers are gone.
        with httpx.Client(timeout=60) as client, ThreadPoolExecutor(4) as threads:

            def keep_asking(asker: int) -> list[int]:
                statuses = []
                for n in range(1000):
                    try:
                        statuses.append(
                            client.post(
                                f"{url}/api/ask",
                                json={
                                    "question": f"Where did the North Korean troops fight? "
                                    f"(reader {reader(asker)}{reader(n)})"
                                },
                            ).status_code
                        )
                    except httpx.TransportError:
                        return statuses
                return statuses

            asking = [threads.submit(keep_asking, asker) for asker in range(4)]
            time.sleep(1)
            process.send_signal(signal.SIGTERM)
            statuses = [status for future in asking for status in future.result()]
        assert process.wait(timeout=60) == -signal.SIGTERM
        assert statuses and set(statuses) == {200}, "no question is dropped by a stopping worker"
        assert wait_until_gone(workers) == []


def test_a_killed_worker_is_replaced_and_ctrl_c_stops_every_process(
    article_index: Path, tmp_path: Path
) -> None:
    with server(article_index, tmp_path / "server.log", start_new_session=True) as (process, url):
        workers = workers_of(process)
        os.kill(workers[0], signal.SIGKILL)
        assert wait_until_gone(workers[:1]) == []
        answers = ask_many(
            url,
            [f"Where did the North Korean troops fight? (reader {reader(n)})" for n in range(20)],
        )
        assert all(a.status_code == 200 and a.json()["answered"] for a in answers)
        now = workers_of(process)
        assert len(now) == WORKERS and workers[0] not in now and workers[1] in now
        assert "A worker process ended" in (tmp_path / "server.log").read_text()

        everyone = [process.pid, *children(process.pid)]
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        process.wait(timeout=60)
        assert wait_until_gone(everyone) == []
        assert "Traceback" not in (tmp_path / "server.log").read_text()


def test_workers_default_to_one_per_core_and_are_checked() -> None:
    cores = len(os.sched_getaffinity(0))
    assert Settings.from_env({}).workers == (cores if cores > 1 else 0)
    assert Settings.from_env({"QA_BOT_WORKERS": "0"}).workers == 0
    assert Settings.from_env({"QA_BOT_WORKERS": "3"}, workers=1).workers == 1
    with pytest.raises(ConfigError, match="QA_BOT_WORKERS must be a whole number"):
        Settings.from_env({"QA_BOT_WORKERS": "two"})
