"""Serving figures (issue 11), printed as Markdown tables; `--before DIR` measures an older
checkout (e.g. `git clone . /tmp/before && git -C /tmp/before checkout COMMIT`) in the same
run, alternating with this one, so that ratios compare like with like on a noisy machine.

  * load: the real server (`python -m qa_bot serve`) on a free loopback port with the rate limit
    lifted (QA_BOT_RATE_LIMIT=100000/minute), driven over HTTP by 1 client, then by 50
    concurrent clients, SECONDS each (keep-alive connections, one question at a time per
    client); every question is phrased differently, so the answer cache never answers.
    Questions/s, p50, p95, errors, the server's CPU time per answer and its cores in use
    (from /proc: robust to other load on the machine), and its resident memory (VmRSS);
  * cold: `python -m qa_bot ask` from process start to its first line of output, against
    `python -c "import sentence_transformers"`, alternating, median of REPEATS;
  * breakdown: per question in one warm process: the bare encode of the question, retrieval
    (which encodes the question again, through the bot's encoder), composing, and the whole
    uncached answer, over the article questions (../shared/data, or built-in ones).

Run from the repository root:
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/serving.py [--before DIR] [--seconds 20]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import (ENV, PYTHON, ROOT, first_output_seconds, median, ms, print_machine,
                     print_table, questions, run)

QUESTION = "How many North Korean special forces reached Vladivostok in October 2024?"
PREFIXES = ["", "Please tell me: ", "Quick question: ", "I was wondering, ", "Do you know: ",
            "Reader asks: "]


def phrasings(client: int):  # type: ignore[no-untyped-def]
    """Endless distinct questions: article questions with varied wording and a counter."""
    on, off, _ = questions()
    asked = on + off
    number = 0
    while True:
        base = asked[(client + number) % len(asked)]
        prefix = PREFIXES[number % len(PREFIXES)]
        yield f"{prefix}{base[0].lower() if prefix else base[0]}{base[1:]} (reader {client}, {number})"
        number += 1


def env_for(repo: Path) -> dict[str, str]:
    return {**ENV, "PYTHONPATH": str(repo), "QA_BOT_RATE_LIMIT": "100000/minute"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(repo: Path, index: Path) -> None:
    subprocess.run([PYTHON, "-m", "qa_bot", "build", "--corpus", str(repo / "corpus"),
                    "--index", str(index)], cwd=repo, env=env_for(repo), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            fields[line.split(":")[0]] = int(line.split()[1]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


async def one_client(port: int, client: int, deadline: float, latencies: list[float],
                     errors: list[str]) -> None:
    asked = phrasings(client)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < deadline:
            body = json.dumps({"question": next(asked)}).encode()
            request = (f"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                       ).encode() + body
            began = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            payload = await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            if status != 200 or b'"answer"' not in payload:
                errors.append(f"{status} {payload[:100]!r}")
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
        errors.append(repr(error))
    finally:
        writer.close()


async def drive(port: int, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    began = time.perf_counter()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(one_client(port, n, deadline, latencies, errors)
                           for n in range(clients)))
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {"clients": clients, "answers": len(latencies), "per_second": len(latencies) / elapsed,
            "p50": ordered[len(ordered) // 2],
            "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
            "errors": len(errors), "first_error": errors[0] if errors else ""}


def load(repo: Path, seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="qa-serving-") as scratch:
        index = Path(scratch) / "index"
        build(repo, index)
        port = free_port()
        log = open(Path(scratch) / "server.log", "w")
        server = subprocess.Popen([PYTHON, "-m", "qa_bot", "serve", "--port", str(port),
                                   "--index", str(index), "--corpus", str(repo / "corpus")],
                                  cwd=repo, env=env_for(repo), stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5)
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError((Path(scratch) / "server.log").read_text()[-2000:])
                    time.sleep(0.2)
            asyncio.run(drive(port, 1, 2))  # warm-up
            idle_rss, _ = rss_mb(server.pid)
            used = cpu_seconds(server.pid)
            single = asyncio.run(drive(port, 1, seconds))
            used, single["cpu"] = cpu_seconds(server.pid), cpu_seconds(server.pid) - used
            many = asyncio.run(drive(port, 50, seconds))
            many["cpu"] = cpu_seconds(server.pid) - used
            rss, peak = rss_mb(server.pid)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
    return {"single": single, "many": many, "idle_rss": idle_rss, "rss": rss, "peak": peak}


def cold(repo: Path, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="qa-cold-") as scratch:
        index = Path(scratch) / "index"
        build(repo, index)
        asks, imports = [], []
        for _ in range(repeats):
            asks.append(first_output_seconds([PYTHON, "-m", "qa_bot", "ask", "--index",
                                              str(index), QUESTION], repo, env_for(repo))[0])
            imports.append(run([PYTHON, "-c", "import sentence_transformers"])["seconds"])
    return {"ask": median(asks), "import_st": median(imports),
            "ratio": median(asks) / median(imports)}


def child_breakdown(index: str, rounds: int) -> dict:
    sys.path.insert(0, os.getcwd())  # the measured checkout's qa_bot, not this one's
    from qa_bot.answer import compose_answer
    from qa_bot.bot import QABot
    from qa_bot.config import Settings

    bot = QABot.from_settings(Settings.from_env(index_dir=Path(index)))
    on, off, _ = questions()
    asked = on + off
    bot.ask_with_evidence(asked[0])  # warm-up
    times: dict[str, list[float]] = {"encode": [], "retrieve": [], "compose": [], "answer": []}
    for _ in range(rounds):
        for question in asked:
            began = time.perf_counter()
            bot.embedder.encode([question])
            encoded = time.perf_counter()
            retrieval = bot.retriever.retrieve(question)
            retrieved = time.perf_counter()
            compose_answer(question, retrieval)
            composed = time.perf_counter()
            bot.ask_with_evidence(question)  # the whole uncached answer
            answered = time.perf_counter()
            times["encode"].append(encoded - began)
            times["retrieve"].append(retrieved - encoded)
            times["compose"].append(composed - retrieved)
            times["answer"].append(answered - composed)
    return {name: median(values) for name, values in times.items()}


def breakdown(repo: Path, rounds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="qa-breakdown-") as scratch:
        index = Path(scratch) / "index"
        build(repo, index)
        # This file's child code runs against `repo`'s qa_bot.
        done = subprocess.run([PYTHON, str(Path(__file__).resolve()), "--child", str(index),
                               str(rounds)], cwd=repo, env=env_for(repo), capture_output=True,
                              text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, help="an older checkout to measure alongside")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parts", default="breakdown,cold,load")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_breakdown(args.child[0], int(args.child[1]))))
        return
    print_machine()
    repos = {"before": args.before, "now": ROOT} if args.before else {"now": ROOT}
    parts = args.parts.split(",")
    if "breakdown" in parts:
        rows = []
        for name, repo in repos.items():
            figures = breakdown(repo, args.rounds)
            rows.append([name, ms(figures["encode"]), ms(figures["retrieve"]),
                         ms(figures["compose"]), ms(figures["answer"]),
                         f"{figures['answer'] / figures['encode']:.2f}x"])
        print("Per question in process, median (retrieve includes encoding the question again):")
        print_table(["code", "bare encode", "retrieve", "compose", "whole answer",
                     "answer / encode"], rows)
    if "cold" in parts:
        rows = []
        for name, repo in repos.items():
            figures = cold(repo, args.repeats)
            rows.append([name, f"{figures['ask']:.2f} s", f"{figures['import_st']:.2f} s",
                         f"{figures['ratio']:.2f}"])
        print("Cold `ask` to first output vs `python -c \"import sentence_transformers\"`:")
        print_table(["code", "cold ask", "import sentence_transformers", "ratio"], rows)
    if "load" in parts:
        rows, memory = [], []
        for name, repo in repos.items():
            figures = load(repo, args.seconds)
            for key in ("single", "many"):
                f = figures[key]
                rows.append([name, f["clients"], f["answers"], f"{f['per_second']:.1f}",
                             ms(f["p50"]), ms(f["p95"]), f["errors"],
                             ms(f["cpu"] / max(1, f["answers"])),
                             f"{f['cpu'] / args.seconds:.2f}"])
            rows.append([name, "50 vs 1", "",
                         f"{figures['many']['per_second'] / figures['single']['per_second']:.2f}x",
                         "", "", "", "", ""])
            memory.append([name, f"{figures['idle_rss']:.0f} MB", f"{figures['rss']:.0f} MB",
                           f"{figures['peak']:.0f} MB"])
            for key in ("single", "many"):
                if figures[key]["first_error"]:
                    print(f"{name}, {key}: first error {figures[key]['first_error']}")
        print(f"Load over HTTP, {args.seconds:.0f} s each, rate limit lifted, every question "
              "phrased differently:")
        print_table(["code", "clients", "answers", "answers/s", "p50", "p95", "errors",
                     "server CPU per answer", "server cores busy"], rows)
        print("Server process memory (one process: chat, widget and API):")
        print_table(["code", "RSS after warm-up", "RSS after the load", "peak RSS"], memory)
    print("load average at the end:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
