"""Three replicas behind deploy/nginx.conf with Redis for the allowance, all real processes on
loopback: the chat stays on one replica, the API and widget go to any, a reader's allowance
holds across replicas, and a replica stopped under load fails no request.

Readers are told apart by the address nginx sees: each client binds its socket to its own
loopback address (127.0.0.2, 127.0.0.3, ...), and nginx sends it as X-Forwarded-For.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from qa_bot.serve.app import GRACEFUL_SHUTDOWN_SECONDS
from tests.support import ROOT, first_health, free_port
from tests.support.nginx import NGINX_MISSING, nginx_binary, running_nginx

REDIS_SERVER = shutil.which("redis-server") or (
    "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
)
pytestmark = [
    pytest.mark.skipif(nginx_binary() is None, reason=NGINX_MISSING),
    pytest.mark.skipif(
        REDIS_SERVER is None,
        reason="redis-server is not installed: apt-get install -y redis-server",
    ),
]
QUESTION = "How many North Korean special forces arrived in Vladivostok?"
ALLOWANCE = 10  # questions per reader per minute, for every replica together
REPLICAS = 3
# nginx names the replica that answered, so the test can see where requests went.
UPSTREAM_HEADER = "        add_header X-Replica $upstream_addr always;"


@dataclass
class Cluster:
    url: str  # nginx
    replicas: list[subprocess.Popen]
    addresses: list[str]  # "127.0.0.1:PORT", one per replica
    logs: list[Path]
    redis: subprocess.Popen

    def log_text(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in self.logs
        )


def reader(address: str) -> httpx.Client:
    """A client whose requests come from `address` (a loopback address) as nginx sees them."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


@contextmanager
def redis_server(folder: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    port = free_port()
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
        yield process, port
    finally:
        stop(process)


@contextmanager
def replica_processes(
    index: Path, folder: Path, redis_port: int
) -> Iterator[tuple[list[subprocess.Popen], list[str], list[Path]]]:
    """`python -m qa_bot serve` three times on one shared, read-only index."""
    ports = [free_port() for _ in range(REPLICAS)]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "QA_BOT_INDEX": str(index),
        "QA_BOT_CORPUS": str(index.parent / "corpus"),
        "QA_BOT_TRUSTED_PROXIES": "127.0.0.1",
        "QA_BOT_RATE_LIMIT": f"{ALLOWANCE}/minute",
        "QA_BOT_RATE_LIMIT_STORAGE": f"redis://127.0.0.1:{redis_port}",
        "QA_BOT_LOG": str(folder / "questions.sqlite3"),
    }  # one host: one log for all
    processes, logs = [], []
    try:
        for port in ports:
            logs.append(folder / f"replica-{port}.log")
            with open(logs[-1], "w") as output:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "qa_bot", "serve", "--port", str(port)],
                        cwd=ROOT,
                        env=env,
                        stdout=output,
                        stderr=output,
                    )
                )
        addresses = [f"127.0.0.1:{port}" for port in ports]
        for process, address, log in zip(processes, addresses, logs):
            # Ready means it answers: the port opens once the index is loaded.
            health = first_health(f"http://{address}", process, log, what="a replica")
            assert health.status_code == 200 and health.json()["status"] == "ok"
        yield processes, addresses, logs
    finally:
        for process in processes:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=GRACEFUL_SHUTDOWN_SECONDS + 10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def cluster(article_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("replicas")
    with ExitStack() as stack:
        redis, redis_port = stack.enter_context(redis_server(folder))
        replicas, addresses, logs = stack.enter_context(
            replica_processes(article_index, folder, redis_port)
        )
        url = stack.enter_context(
            running_nginx(folder, free_port(), addresses, extra=UPSTREAM_HEADER)
        )
        yield Cluster(url, replicas, addresses, logs, redis)


def ask(client: httpx.Client, url: str) -> httpx.Response:
    return client.post(f"{url}/api/ask", json={"question": QUESTION, "channel": "widget"})


def test_the_example_retries_the_api_on_another_replica() -> None:
    config = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    retry = next(
        line.rstrip(";").split()
        for line in map(str.strip, config.splitlines())
        if line.startswith("proxy_next_upstream ")
    )
    assert {"error", "timeout", "non_idempotent"} <= set(retry)
    assert "ip_hash;" in config


def test_the_chat_stays_on_one_replica_and_the_api_goes_to_any(cluster: Cluster) -> None:
    with reader("127.0.0.4") as client:
        chat = {client.get(f"{cluster.url}/").headers["x-replica"] for _ in range(6)}
        assert len(chat) == 1, chat
        api = {client.get(f"{cluster.url}/api/health").headers["x-replica"] for _ in range(6)}
        widget = {client.get(f"{cluster.url}/widget").headers["x-replica"] for _ in range(6)}
    assert api == widget == set(cluster.addresses)


def test_a_readers_allowance_holds_across_replicas_while_another_is_served(
    cluster: Cluster,
) -> None:
    with reader("127.0.0.2") as first, reader("127.0.0.3") as second:
        answered = [ask(first, cluster.url) for _ in range(ALLOWANCE)]
        assert [r.status_code for r in answered] == [200] * ALLOWANCE
        # Each replica saw only a third of them: alone, none would refuse the next one.
        assert {r.headers["x-replica"] for r in answered} == set(cluster.addresses)
        refused = ask(first, cluster.url)
        assert refused.status_code == 429, refused.text
        assert set(refused.json()) == {"error"} and "Retry-After" in refused.headers
        other = ask(second, cluster.url)
        assert other.status_code == 200 and other.json()["answered"]


def test_a_replica_stopped_under_load_finishes_its_requests_and_fails_none(
    cluster: Cluster,
) -> None:
    with reader("127.0.0.5") as client:  # this reader's chat is on the replica to stop
        victim_address = client.get(f"{cluster.url}/").headers["x-replica"]
    victim = cluster.replicas[cluster.addresses.index(victim_address)]
    stopped = threading.Event()
    failures: list[str] = []
    done = [0, 0, 0]  # rounds of requests per worker

    def load(worker: int) -> None:
        """Questions and widget pages through nginx, until some time after the stop.
        Each reader (a loopback address) asks at most its allowance."""
        clients: dict[str, httpx.Client] = {}
        after = 0
        try:
            for i in range(60):
                address = f"127.0.{10 + worker}.{1 + i // ALLOWANCE}"
                if address not in clients:
                    clients[address] = reader(address)
                client = clients[address]
                for method, path in (
                    ("POST", "/api/ask"),
                    ("GET", "/widget"),
                    ("GET", "/widget.js"),
                    ("GET", "/api/health"),
                ):
                    try:
                        response = (
                            ask(client, cluster.url)
                            if method == "POST"
                            else client.get(f"{cluster.url}{path}")
                        )
                        if response.status_code != 200:
                            failures.append(f"{path} {response.status_code} {response.text}")
                    except httpx.HTTPError as error:
                        failures.append(f"{path} {error!r}")
                done[worker] += 1
                after += stopped.is_set()
                if after >= 8:
                    break
        finally:
            for client in clients.values():
                client.close()

    workers = [threading.Thread(target=load, args=(w,)) for w in range(len(done))]
    for thread in workers:
        thread.start()
    try:
        while sum(done) < 6 and any(t.is_alive() for t in workers):
            time.sleep(0.05)
        # A request the victim holds when told to stop: its body is still arriving. And an
        # open chat, whose heartbeat stream never ends: it is cut after the grace period.
        body = b'{"question": "%s"}' % QUESTION.encode()
        host, port = victim_address.split(":")
        with (
            socket.create_connection((host, int(port)), timeout=30) as held,
            socket.create_connection((host, int(port)), timeout=30) as chat,
        ):
            chat.sendall(b"GET /gradio_api/heartbeat/replicas HTTP/1.1\r\nHost: x\r\n\r\n")
            assert chat.recv(4096).startswith(b"HTTP/1.1 200")
            held.sendall(
                b"POST /api/ask HTTP/1.1\r\nHost: replica\r\nContent-Type: "
                b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10]
            )
            time.sleep(0.2)
            victim.send_signal(signal.SIGTERM)
            stopped.set()
            time.sleep(0.5)  # the victim no longer accepts; nginx sends its share elsewhere
            held.sendall(body[10:])
            reply = b""
            while chunk := held.recv(65536):
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
            assert b'"answered":true' in reply
            # uvicorn ends by raising the signal it caught, as a process stopped by it would.
            assert victim.wait(timeout=GRACEFUL_SHUTDOWN_SECONDS + 10) == -signal.SIGTERM, (
                cluster.log_text()
            )
    finally:
        stopped.set()
        for thread in workers:
            thread.join(timeout=120)
    assert not failures, failures[:5]
    assert min(done) >= 8  # every worker went on after the stop
    with reader("127.0.0.5") as client:  # a chat pinned to the stopped replica moves on
        moved = client.get(f"{cluster.url}/")
        assert moved.status_code == 200 and moved.headers["x-replica"] != victim_address


def test_while_redis_is_down_each_replica_still_answers_and_limits(cluster: Cluster) -> None:
    stop(cluster.redis)
    live = sum(process.poll() is None for process in cluster.replicas)
    with reader("127.0.0.6") as client:  # each live replica now counts on its own
        codes = [ask(client, cluster.url).status_code for _ in range(live * ALLOWANCE + 1)]
    assert codes == [200] * (live * ALLOWANCE) + [429]
    assert "rate limit storage cannot be reached" in cluster.log_text()
