"""Starting the server: what `serve` says when it cannot listen."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys

import pytest

from qa_bot.config import Settings
from qa_bot.errors import ConfigError
from qa_bot.serve.app import bound_socket, serve
from tests.support import ROOT


@pytest.mark.parametrize("index_exists", [True, False])
def test_a_port_in_use_is_one_sentence_and_exit_1_before_anything_else(
    article_index, tmp_path, index_exists
) -> None:
    # Without an index, serve would build one first: the port is checked before that.
    index = article_index if index_exists else tmp_path / "no-index"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "qa_bot",
                "serve",
                "--port",
                str(port),
                "--workers",
                "0",
                "--index",
                str(index),
                "--corpus",
                str(article_index.parent / "corpus"),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"},
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"error: Port {port} on 127.0.0.1 is in use: stop what uses it or "
        "choose another with --port.\n"
    )
    assert result.stdout == ""  # no chat address for a server that never listened
    assert not (tmp_path / "no-index").exists()


def test_a_server_that_started_first_on_the_port_is_found_when_listening(article_index) -> None:
    # Both bind (neither listens yet): the one that listens first has the port.
    with bound_socket("127.0.0.1", 0) as first:
        port = first.getsockname()[1]
        second = bound_socket("127.0.0.1", port)
        first.listen()
        settings = Settings(
            index_dir=article_index,
            corpus_dir=article_index.parent / "corpus",
            port=port,
            workers=0,
            log_path=None,
        )
        with pytest.raises(ConfigError, match=f"^Port {port} on 127.0.0.1 is in use"):
            serve(settings, second)
        assert second.fileno() == -1  # closed


def test_connections_to_the_bound_socket_send_without_delay() -> None:
    """uvicorn serves the socket through asyncio, which turns Nagle's algorithm off only on
    sockets it sees are TCP: left on, it added ~40 ms to each answer on a kept-alive
    connection."""

    async def nodelay_of_a_connection() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Record(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                accepted.set_result(
                    transport.get_extra_info("socket").getsockopt(
                        socket.IPPROTO_TCP, socket.TCP_NODELAY
                    )
                )

        with bound_socket("127.0.0.1", 0) as listener:
            listener.listen()
            server = await asyncio.get_running_loop().create_server(Record, sock=listener)
            _, writer = await asyncio.open_connection(*listener.getsockname())
            found = await asyncio.wait_for(accepted, 10)
            writer.close()
            server.close()
        return found

    assert asyncio.run(nodelay_of_a_connection()) == 1


def test_an_address_of_another_machine_is_one_sentence() -> None:
    with pytest.raises(ConfigError, match="^192.0.2.1 is not an address of this machine"):
        bound_socket("192.0.2.1", 7860)  # TEST-NET-1: never a local address


def test_the_bound_socket_does_not_listen_until_served() -> None:
    with bound_socket("127.0.0.1", 0) as listener:  # so /api/health answers only when ready
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(listener.getsockname(), timeout=5).close()
