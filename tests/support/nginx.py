"""Helpers for the deploy tests: Debian's nginx running deploy/nginx.conf on loopback ports."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.support import ROOT, first_health

NGINX_MISSING = "nginx is not installed: apt-get install -y nginx-light"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


def deploy_config(folder: Path, port: int, replicas: Sequence[str], extra: str = "") -> Path:
    """deploy/nginx.conf listening on 127.0.0.1:`port`, every upstream's servers replaced by
    `replicas` ("127.0.0.1:PORT"), its files in `folder`; `extra` goes into the server block."""
    config = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    config, upstreams = re.subn(
        r"((?:\n *server 127\.0\.0\.1:\d+[^;]*;)+)",
        "".join(f"\n        server {r} max_fails=1 fail_timeout=10s;" for r in replicas),
        config,
    )
    assert upstreams == 2, "deploy/nginx.conf should have two upstreams"
    config = config.replace("listen 8080;", f"listen 127.0.0.1:{port};\n{extra}").replace(
        "/tmp/qa_bot-nginx", str(folder / "nginx")
    )
    path = folder / "nginx.conf"
    path.write_text(config, encoding="utf-8")
    return path


@contextmanager
def running_nginx(
    folder: Path, port: int, replicas: Sequence[str], extra: str = ""
) -> Iterator[str]:
    """nginx in the foreground with deploy_config(); yields its URL, stops it after."""
    nginx = nginx_binary()
    assert nginx, NGINX_MISSING
    config = deploy_config(folder, port, replicas, extra)
    process = subprocess.Popen([nginx, "-c", str(config), "-p", str(folder), "-g", "daemon off;"])
    try:
        url = f"http://127.0.0.1:{port}"
        first_health(url, process, seconds=10, what="nginx")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
