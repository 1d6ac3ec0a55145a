"""Serving figures (issue 11), printed as Markdown tables; `--before DIR` measures an older
checkout (e.g. `git clone . /tmp/before && git -C /tmp/before checkout COMMIT`) in the same
run, alternating with this one, so that ratios compare like with like on a noisy machine.

  * load: the real server (`python -m qa_bot serve`) on a free loopback port with the rate limit
    lifted (QA_BOT_RATE_LIMIT=100000/minute), driven over HTTP by 1 client, then by 50
    concurrent clients, SECONDS each (keep-alive connections, one question at a time per
    client); every question is phrased differently (a reader's name of letters added: a number
    would make the bot decline), so the answer cache never answers. The load comes from `wrk`
    (Debian's package, a C program: `apt-get install wrk`) with ask.lua when it is installed,
    else from an asyncio client here, whose own CPU the server then lacks. Both run on this
    machine: the client's CPU per answer is reported beside the server's. This checkout is
    measured as `serve` starts by default (worker processes) and with `--workers 0` (answering
    in the server process). Questions/s, p50, p95, errors, the CPU time per answer of the
    server and its worker processes and the cores they used (from /proc: robust to other load
    on the machine), and their resident memory (VmRSS, summed);
  * cold: `python -m qa_bot ask` from process start to its first line of output, against
    `python -c "import sentence_transformers"`, alternating, median of REPEATS;
  * breakdown: per question in one warm process: the bare encode of the question, retrieval
    (which encodes the question again, through the bot's encoder), the reader's batched call
    for the candidates (READ_CANDIDATES of them), composing, and the whole
    uncached answer, over the article questions (../shared/data, or built-in ones).

Run from the repository root:
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/serving.py [--before DIR] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import (
    ENV,
    PYTHON,
    ROOT,
    first_output_seconds,
    median,
    ms,
    print_machine,
    print_table,
    questions,
    run,
)

QUESTION = "How many North Korean special forces reached Vladivostok in October 2024?"
PREFIXES = [
    "",
    "Please tell me: ",
    "Quick question: ",
    "I was wondering, ",
    "Do you know: ",
    "Reader asks: ",
]


def letters(number: int) -> str:
    """0 -> "a", 25 -> "z", 26 -> "ba": a counter without digits (as ask.lua does)."""
    text = ""
    while True:
        text = chr(ord("a") + number % 26) + text
        number //= 26
        if number == 0:
            return text


def base_phrasings() -> list[str]:
    """The article questions, each with every prefix."""
    on, off, _ = questions()
    return [
        f"{prefix}{q[0].lower() if prefix else q[0]}{q[1:]}"
        for prefix in PREFIXES
        for q in on + off
    ]


def phrasings(client: int):  # type: ignore[no-untyped-def]
    """Endless distinct questions: the base phrasings with the reader's name and a counter."""
    asked = base_phrasings()
    number = 0
    while True:
        base = asked[(client + number) % len(asked)]
        yield f"{base} (reader {letters(client)} {letters(number)})"
        number += 1


def env_for(repo: Path, **settings: str) -> dict[str, str]:
    return {**ENV, "PYTHONPATH": str(repo), "QA_BOT_RATE_LIMIT": "100000/minute", **settings}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(repo: Path, index: Path) -> None:
    subprocess.run(
        [PYTHON, "-m", "qa_bot", "build", "--corpus", str(repo / "corpus"), "--index", str(index)],
        cwd=repo,
        env=env_for(repo),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (the server, its workers, multiprocessing's helper)."""
    tree, index = [pid], 0
    while index < len(tree):
        for task in Path(f"/proc/{tree[index]}/task").glob("*"):
            try:
                tree += [int(child) for child in (task / "children").read_text().split()]
            except FileNotFoundError:
                pass
        index += 1
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its descendants have used so far (all threads)."""
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float, int]:
    """(VmRSS, VmHWM) in MB summed over a process and its descendants, and how many they are."""
    rss = peak = 0.0
    tree = process_tree(pid)
    for member in tree:
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak += int(line.split()[1]) / 1024
    return rss, peak, len(tree)


async def one_client(
    port: int, client: int, deadline: float, latencies: list[float], errors: list[str]
) -> None:
    asked = phrasings(client)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < deadline:
            body = json.dumps({"question": next(asked)}).encode()
            request = (
                f"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
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


async def drive_async(port: int, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    began, cpu = time.perf_counter(), time.process_time()
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        *(one_client(port, n, deadline, latencies, errors) for n in range(clients))
    )
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "answers": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50": ordered[len(ordered) // 2],
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "client_cpu": time.process_time() - cpu,
    }


def drive_wrk(port: int, clients: int, seconds: float, scratch: Path) -> dict:
    phrasings_file = scratch / "phrasings.txt"
    phrasings_file.write_text("".join(json.dumps(q)[1:-1] + "\n" for q in base_phrasings()))
    wrk = subprocess.Popen(
        [
            "wrk",
            "--threads",
            "1",
            "--connections",
            str(clients),
            "--duration",
            f"{seconds:.0f}s",
            "--timeout",
            "60s",
            "--script",
            str(Path(__file__).with_name("ask.lua")),
            f"http://127.0.0.1:{port}",
            "--",
            str(phrasings_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    output = wrk.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(wrk.pid, 0)
    if status:
        raise RuntimeError(f"wrk failed: {output}")
    figures = json.loads(output.strip().splitlines()[-1])
    return {
        "clients": clients,
        "answers": figures["answers"],
        "per_second": figures["answers"] / (figures["microseconds"] / 1e6),
        "p50": figures["p50"] / 1e6,
        "p95": figures["p95"] / 1e6,
        "errors": figures["errors"],
        "first_error": f"{figures['errors']} failed (wrk counts them)" if figures["errors"] else "",
        "client_cpu": usage.ru_utime + usage.ru_stime,
    }


def drive(port: int, clients: int, seconds: float, scratch: Path, generator: str) -> dict:
    if generator == "wrk":
        return drive_wrk(port, clients, seconds, scratch)
    return asyncio.run(drive_async(port, clients, seconds))


def load(repo: Path, seconds: float, generator: str, **settings: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="qa-serving-") as folder:
        scratch = Path(folder)
        index = scratch / "index"
        build(repo, index)
        port = free_port()
        log = open(scratch / "server.log", "w")
        server = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "qa_bot",
                "serve",
                "--port",
                str(port),
                "--index",
                str(index),
                "--corpus",
                str(repo / "corpus"),
            ],
            cwd=repo,
            env=env_for(repo, QA_BOT_LOG=str(scratch / "log"), **settings),
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5)
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError((scratch / "server.log").read_text()[-2000:]) from None
                    time.sleep(0.2)
            drive(port, 50, 3, scratch, generator)  # warm-up: every worker answers
            idle_rss, _, processes = rss_mb(server.pid)
            used = cpu_seconds(server.pid)
            single = drive(port, 1, seconds, scratch, generator)
            used, single["cpu"] = cpu_seconds(server.pid), cpu_seconds(server.pid) - used
            many = drive(port, 50, seconds, scratch, generator)
            many["cpu"] = cpu_seconds(server.pid) - used
            rss, peak, _ = rss_mb(server.pid)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
    return {
        "single": single,
        "many": many,
        "idle_rss": idle_rss,
        "rss": rss,
        "peak": peak,
        "processes": processes,
    }


def cold(repo: Path, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="qa-cold-") as scratch:
        index = Path(scratch) / "index"
        build(repo, index)
        asks, imports = [], []
        for _ in range(repeats):
            asks.append(
                first_output_seconds(
                    [PYTHON, "-m", "qa_bot", "ask", "--index", str(index), QUESTION],
                    repo,
                    env_for(repo),
                )[0]
            )
            imports.append(run([PYTHON, "-c", "import sentence_transformers"])["seconds"])
    return {
        "ask": median(asks),
        "import_st": median(imports),
        "ratio": median(asks) / median(imports),
    }


def child_breakdown(index: str, rounds: int) -> dict:
    sys.path.insert(0, os.getcwd())  # the measured checkout's qa_bot, not this one's
    from qa_bot.answer.compose import compose_answer

    try:
        from qa_bot.answer.compose import ReadSentence, reading_candidates
    except ImportError:  # a checkout from before the reader
        ReadSentence = reading_candidates = None
    from qa_bot.answer.bot import QABot
    from qa_bot.config import Settings

    bot = QABot.from_settings(Settings.from_env(index_dir=Path(index)))
    on, off, _ = questions()
    asked = on + off
    bot.ask_with_evidence(asked[0])  # warm-up
    times: dict[str, list[float]] = {
        "encode": [],
        "retrieve": [],
        "read": [],
        "compose": [],
        "answer": [],
    }
    for _ in range(rounds):
        for question in asked:
            began = time.perf_counter()
            bot.embedder.encode([question])
            encoded = time.perf_counter()
            retrieval = bot.retriever.retrieve(question)
            retrieved = time.perf_counter()
            if reading_candidates is None:
                read_at = time.perf_counter()
                compose_answer(question, retrieval)
            else:
                candidates = reading_candidates(question, retrieval)
                readings = bot.reader.read(question, [c.sentence.text for c in candidates])
                read_at = time.perf_counter()
                compose_answer(
                    question,
                    retrieval,
                    [ReadSentence(c, r) for c, r in zip(candidates, readings)],
                    bot.reader.calibration,
                )
            composed = time.perf_counter()
            bot.ask_with_evidence(question)  # the whole uncached answer
            answered = time.perf_counter()
            times["encode"].append(encoded - began)
            times["retrieve"].append(retrieved - encoded)
            times["read"].append(read_at - retrieved)
            times["compose"].append(composed - read_at)
            times["answer"].append(answered - composed)
    return {name: median(values) for name, values in times.items()}


def breakdown(repo: Path, rounds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="qa-breakdown-") as scratch:
        index = Path(scratch) / "index"
        build(repo, index)
        # This file's child code runs against `repo`'s qa_bot.
        done = subprocess.run(
            [PYTHON, str(Path(__file__).resolve()), "--child", str(index), str(rounds)],
            cwd=repo,
            env=env_for(repo),
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, help="an older checkout to measure alongside")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parts", default="breakdown,cold,load")
    parser.add_argument(
        "--generator",
        choices=["wrk", "python"],
        help="what drives the load (default: wrk when installed)",
    )
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
            read = figures.get("read", 0.0)
            rows.append(
                [
                    name,
                    ms(figures["encode"]),
                    ms(figures["retrieve"]),
                    ms(read),
                    f"{read / figures['encode']:.2f}x",
                    ms(figures["compose"]),
                    ms(figures["answer"]),
                    f"{figures['answer'] / figures['encode']:.2f}x",
                ]
            )
        print(
            "Per question in process, median (retrieve includes encoding the question again;"
            " read: the reader's one call for the 8 candidates):"
        )
        print_table(
            [
                "code",
                "bare encode",
                "retrieve",
                "read",
                "read / encode",
                "compose",
                "whole answer",
                "answer / encode",
            ],
            rows,
        )
    if "cold" in parts:
        rows = []
        for name, repo in repos.items():
            figures = cold(repo, args.repeats)
            rows.append(
                [
                    name,
                    f"{figures['ask']:.2f} s",
                    f"{figures['import_st']:.2f} s",
                    f"{figures['ratio']:.2f}",
                ]
            )
        print('Cold `ask` to first output vs `python -c "import sentence_transformers"`:')
        print_table(["code", "cold ask", "import sentence_transformers", "ratio"], rows)
    if "load" in parts:
        generator = args.generator or ("wrk" if shutil.which("wrk") else "python")
        variants = {f"{name}": (repo, {}) for name, repo in repos.items()}
        variants["now, --workers 0"] = (ROOT, {"QA_BOT_WORKERS": "0"})
        rows, memory = [], []
        for name, (repo, settings) in variants.items():
            print(
                f"load average before {name}:",
                " ".join(f"{x:.2f}" for x in os.getloadavg()),
                flush=True,
            )
            figures = load(repo, args.seconds, generator, **settings)
            for key in ("single", "many"):
                f = figures[key]
                rows.append(
                    [
                        name,
                        f["clients"],
                        f["answers"],
                        f"{f['per_second']:.1f}",
                        ms(f["p50"]),
                        ms(f["p95"]),
                        f["errors"],
                        ms(f["cpu"] / max(1, f["answers"])),
                        f"{f['cpu'] / args.seconds:.2f}",
                        ms(f["client_cpu"] / max(1, f["answers"])),
                    ]
                )
            ratio = figures["many"]["per_second"] / figures["single"]["per_second"]
            rows.append([name, "50 vs 1", "", f"**{ratio:.2f}x**", "", "", "", "", "", ""])
            memory.append(
                [
                    name,
                    figures["processes"],
                    f"{figures['idle_rss']:.0f} MB",
                    f"{figures['rss']:.0f} MB",
                    f"{figures['peak']:.0f} MB",
                ]
            )
            for key in ("single", "many"):
                if figures[key]["first_error"]:
                    print(f"{name}, {key}: first error {figures[key]['first_error']}")
        print(
            f"Load over HTTP from {generator}, {args.seconds:.0f} s each, rate limit lifted, "
            "every question phrased differently:"
        )
        print_table(
            [
                "code",
                "clients",
                "answers",
                "answers/s",
                "p50",
                "p95",
                "errors",
                "server CPU per answer",
                "server cores busy",
                "client CPU per answer",
            ],
            rows,
        )
        print("Server memory (the server process, its workers and multiprocessing's helper):")
        print_table(
            ["code", "processes", "RSS after warm-up", "RSS after the load", "peak RSS"], memory
        )
    print("load average at the end:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
