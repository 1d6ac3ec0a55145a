"""Helpers shared by the benchmark scripts: timing subprocesses, memory, statistics, machine.

Not a benchmark itself. Memory figures come from /proc (VmRSS, VmHWM) and from the rusage of
each child process (os.wait4), because tracemalloc does not see numpy, torch or faiss memory.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DATA = ROOT.parent / "shared" / "data"
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "PYTHONPATH": str(ROOT),
}
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FALLBACK_QUESTIONS = [
    "Which Russian region did Ukraine enter in August 2024?",
    "How many North Korean special forces reached Vladivostok in October 2024?",
    "Why does Russia need foreign troops?",
    "Who painted the Mona Lisa?",
]


def run(cmd: list[str], cwd: Path = ROOT) -> dict:
    """Run a command; wall seconds, exit code, output and the child's own peak RSS in MB."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        process = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = {
            "seconds": seconds,
            "code": process.returncode,
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"),
            "peak_rss_mb": usage.ru_maxrss / 1024,
        }
    if result["code"] != 0:
        raise RuntimeError(
            f"{' '.join(map(str, cmd))} failed ({result['code']}):\n{result['stderr'][-2000:]}"
        )
    return result


def run_child(script: Path, *args: str) -> dict:
    """Run `script --child ...` in a fresh interpreter; it prints one JSON object last."""
    result = run([PYTHON, str(script), "--child", *args])
    data = json.loads(result["stdout"].strip().splitlines()[-1])
    data["child_seconds"] = result["seconds"]
    data["child_peak_rss_mb"] = result["peak_rss_mb"]
    return data


def proc_status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def median(values: list[float]) -> float:
    return statistics.median(values)


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def questions() -> tuple[list[str], list[str], str]:
    """(on-topic, off-topic) questions and where they came from."""
    try:
        on = [
            json.loads(line)["q"]
            for line in (DATA / "article-questions.jsonl").read_text().splitlines()
            if line.strip()
        ]
        off = [
            json.loads(line)["q"]
            for line in (DATA / "article-offtopic.jsonl").read_text().splitlines()
            if line.strip()
        ]
        return on, off, str(DATA)
    except FileNotFoundError:
        return (
            FALLBACK_QUESTIONS[:3],
            FALLBACK_QUESTIONS[3:],
            "built-in questions (../shared absent)",
        )


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    names = (
        "faiss-cpu",
        "onnxruntime",
        "tokenizers",
        "sentence-transformers",
        "torch",
        "transformers",
        "numpy",
        "bm25s",
        "pysbd",
    )
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{mem_kb / 1024**2:.1f} GiB",
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


def print_machine() -> None:
    for key, value in machine().items():
        print(f"{key:14} {value}")
    print()


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    """A Markdown table, so the output can be pasted into BENCHMARKS.md."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join(" --- " for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    print()


def first_output_seconds(
    cmd: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """(seconds to the first line on stdout, seconds to exit) of a fresh process."""
    began = time.perf_counter()
    process = subprocess.Popen(
        cmd, cwd=cwd, env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    process.stdout.readline()
    first = time.perf_counter() - began
    process.stdout.read()
    if process.wait() != 0:
        raise RuntimeError(f"{cmd} failed")
    return first, time.perf_counter() - began
