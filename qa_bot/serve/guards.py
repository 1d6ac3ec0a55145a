"""What stands at the door of the web app, as ASGI middleware so it covers every entrance.

Gradio's routes (the chat's questions, uploads) never pass through FastAPI dependencies, so the
limits live here: who the reader is, one allowance of questions per reader whether they ask
through /api/ask or the chat, a cap and a deadline for every request body, the entrances the
chat page never uses closed, and unexpected errors answered inside CORS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
import urllib.parse
from collections.abc import Collection

from gradio.data_classes import PredictBody
from limits import RateLimitItem
from limits import parse as parse_rate
from limits.errors import ConfigurationError, StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa_bot.config import IPNetwork
from qa_bot.errors import ConfigError
from qa_bot.serve.api import JSON_BODIES, error_response

log = logging.getLogger("qa_bot.serve.guards")

API_BODY_BYTES = 64 * 1024
# Some of the chat page's POSTs carry the whole conversation, Sources messages included: in
# Chromium, 50 questions about the article in one chat sent at most 67 KB in one body
# (tests/end_to_end/test_hostile.py::test_a_long_chat_fits_under_the_chat_body_cap rebuilds
# it). Answers with more or longer sources can be a few times that: 512 KB.
CHAT_BODY_BYTES = 512 * 1024
BODY_SECONDS = 10.0  # a request body must arrive within this; a trickling client is cut off
# Where questions arrive. The chat page posts each event of the chat to queue/join (queued
# ones) or run/predict (quick ones, such as clearing the box); only some events are questions.
QUESTION_POSTS = ("/api/ask", "/gradio_api/call/")
FEEDBACK_POST = "/api/feedback"  # its own allowance, of the same size
CHAT_EVENT_POSTS = ("/gradio_api/queue/join", "/gradio_api/run/predict")
# The only other POSTs the chat page makes: the stop button and leaving the page.
CHAT_POSTS = ("/gradio_api/cancel", "/gradio_api/reset")
# Redis answered a hit in 0.15 ms (p99 0.3 ms, 2,000 hits through `limits` to a redis-server on
# loopback): one that has not answered in 0.25 s is hung or gone. The allowance is then counted
# in memory, and the storage asked again after the back-off, not by every request.
STORAGE_SECONDS = 0.25
STORAGE_BACKOFF_SECONDS = 5.0
# A count still unanswered after this (Redis answers in 0.15 ms) is hung: questions arriving
# meanwhile are counted in memory, not queued behind it for up to STORAGE_SECONDS each.
STORAGE_HUNG_SECONDS = 0.05


def reader_address(peer: str, forwarded_for: list[str], trusted: Collection[IPNetwork]) -> str:
    """The reader's address: the socket's peer, unless the peer is a trusted proxy; then the
    right-most X-Forwarded-For entry that is not itself a trusted proxy (each proxy appends
    the address it was reached from, so entries to the left of that are the client's say)."""
    if not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _is_trusted(address: str, trusted: Collection[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


class ReaderAddress:
    """Sets scope["client"] to the reader's address (see reader_address), for every layer
    below: the rate limit, logs, Gradio's request."""

    def __init__(self, app: ASGIApp, trusted_proxies: tuple[IPNetwork, ...]) -> None:
        self.app = app
        self.trusted = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted and scope.get("client"):
            forwarded = [
                v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"
            ]
            scope = {
                **scope,
                "client": (reader_address(scope["client"][0], forwarded, self.trusted), 0),
            }
        await self.app(scope, receive, send)


class ReaderLimits:
    """Every POST: its entrance open, its body JSON (on /api/), under its cap and in on time;
    a question also within the reader's allowance (one per reader across all entrances).

    A chat question is a call POST, or a queue/join or run/predict POST of one of the chat's
    functions that answer (`question_fns`, by fn_index); the chat's other events (clearing
    the box, saving the conversation) and its GETs (heartbeats, event streams) are not.

    The allowance is counted in `storage` (QA_BOT_RATE_LIMIT_STORAGE), Redis for replicas,
    in a thread: a hung storage must not stop the event loop, and with it every request.
    While that storage cannot be reached, or a count sent to it is unanswered for
    STORAGE_HUNG_SECONDS, this process counts in memory, so readers are still answered and
    still limited (each replica then allows a reader its own allowance), and asks the storage
    again every STORAGE_BACKOFF_SECONDS."""

    def __init__(
        self,
        app: ASGIApp,
        rate_limit: str,
        question_fns: Collection[int],
        storage: str = "memory://",
    ) -> None:
        self.app = app
        try:
            self.limit = parse_rate(rate_limit)
        except ValueError:
            raise ConfigError(
                f"QA_BOT_RATE_LIMIT must look like '30/minute', not {rate_limit!r}."
            ) from None
        self.limiter = MovingWindowRateLimiter(_storage(storage))
        self.fallback = MovingWindowRateLimiter(MemoryStorage())
        self.storage_down = False
        self.retry_storage_at = 0.0  # time.monotonic() before which the storage is not asked
        self.asked_at: dict[object, float] = {}  # the storage's unanswered counts: when asked
        self.question_fns = set(question_fns)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        path = scope["path"]
        api_body = JSON_BODIES.get(path)
        if path.startswith("/api/") and not api_body:
            return await self.app(scope, receive, send)  # 404 or 405, body unread
        if not (api_body or path.startswith(QUESTION_POSTS + CHAT_EVENT_POSTS + CHAT_POSTS)):
            return await _error(
                send,
                404,
                "This address takes no requests: the chat does not accept uploads or other calls.",
            )
        if api_body and _content_type(scope) != b"application/json":
            return await _error(send, 415, api_body.not_json())
        cap = API_BODY_BYTES if api_body else CHAT_BODY_BYTES
        try:
            body = await asyncio.wait_for(_read_body(scope, receive, cap), BODY_SECONDS)
        except BodyTooLarge:
            return await _error(
                send,
                413,
                api_body.too_large(cap)
                if api_body
                else f"The request body is over {cap // 1024} KB; send a shorter question.",
            )
        except TimeoutError:
            return await _error(
                send,
                408,
                f"The request body did not arrive within {BODY_SECONDS:.0f} seconds.",
                {"Connection": "close"},
            )
        allowance = "feedback" if path == FEEDBACK_POST else "ask"
        if allowance == "feedback" or self._is_question(path, body):
            reader = scope["client"][0] if scope.get("client") else "unknown"
            wait = await self._over_allowance(allowance, reader)
            if wait:
                what = "ratings" if allowance == "feedback" else "questions"
                return await _error(
                    send,
                    429,
                    f"Too many {what} from your address "
                    f"({self.limit}); wait a moment and try again.",
                    {"Retry-After": str(wait)},
                )

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _over_allowance(self, allowance: str, reader: str) -> int:
        """Counts one against the reader's allowance: 0 when within it, else the seconds to
        wait. The shared storage decides when it answers, this process's memory when not."""
        now = time.monotonic()
        if now < self.retry_storage_at or any(
            now - asked > STORAGE_HUNG_SECONDS for asked in self.asked_at.values()
        ):
            return _hit(self.fallback, self.limit, allowance, reader)
        if isinstance(self.limiter.storage, MemoryStorage):  # nothing to wait for: no thread
            return _hit(self.limiter, self.limit, allowance, reader)
        if self.storage_down:  # this request asks it again; the others count in memory meanwhile
            self.retry_storage_at = now + STORAGE_BACKOFF_SECONDS
        token = object()
        self.asked_at[token] = now
        try:
            wait = await asyncio.to_thread(_hit, self.limiter, self.limit, allowance, reader)
        except StorageError as error:
            if not self.storage_down:
                log.error(
                    "The rate limit storage cannot be reached (%s); each process counts "
                    "the allowance on its own until it can.",
                    error.storage_error,
                )
            self.storage_down = True
            self.retry_storage_at = time.monotonic() + STORAGE_BACKOFF_SECONDS
            return _hit(self.fallback, self.limit, allowance, reader)
        finally:
            del self.asked_at[token]
        if self.storage_down:
            log.warning("The rate limit storage is reachable again.")
        self.storage_down = False
        self.retry_storage_at = 0.0
        return wait

    def _is_question(self, path: str, body: bytes) -> bool:
        if path.startswith(QUESTION_POSTS):
            return True
        if not path.startswith(CHAT_EVENT_POSTS):
            return False
        try:  # read as Gradio reads it: "3", 3.0 and " +3 " are all fn_index 3
            fn_index = PredictBody.model_validate(json.loads(body)).fn_index
        except (ValueError, RecursionError):  # pydantic's ValidationError is a ValueError
            return True  # Gradio refuses it; count it all the same
        return fn_index in self.question_fns


def _storage(uri: str) -> Storage:
    """The `limits` storage named by `uri`, its errors raised as StorageError. Messages name
    the scheme, never the URI, which may hold a password."""
    scheme = urllib.parse.urlsplit(uri).scheme
    expected = "must be memory:// or redis://HOST:PORT (a storage URI of the limits library)"
    named = f"{scheme}://" if scheme else repr(uri)
    # redis-py waits 5 s for a connection and for each answer unless told otherwise.
    timeouts = (
        {"socket_connect_timeout": STORAGE_SECONDS, "socket_timeout": STORAGE_SECONDS}
        if scheme.startswith("redis")
        else {}
    )
    try:
        storage = storage_from_string(uri, wrap_exceptions=True, **timeouts)
    except ConfigurationError:
        if uri.startswith(("redis://", "rediss://")):
            raise ConfigError(
                "QA_BOT_RATE_LIMIT_STORAGE names a storage whose Python package "
                "is missing: run make install."
            ) from None
        raise ConfigError(f"QA_BOT_RATE_LIMIT_STORAGE {expected}, not {named}.") from None
    except ValueError as error:
        raise ConfigError(
            f"QA_BOT_RATE_LIMIT_STORAGE is not a valid {scheme} URI ({error})."
        ) from None
    if not isinstance(storage, Storage):  # an async+ storage: this middleware counts in sync
        raise ConfigError(f"QA_BOT_RATE_LIMIT_STORAGE {expected}, not {named}.")
    return storage


def _hit(
    limiter: MovingWindowRateLimiter, limit: RateLimitItem, allowance: str, reader: str
) -> int:
    if limiter.hit(limit, allowance, reader):
        return 0
    reset = limiter.get_window_stats(limit, allowance, reader).reset_time
    return max(1, int(reset - time.time()))


class BodyTooLarge(Exception):
    pass


async def _read_body(scope: Scope, receive: Receive, cap: int) -> bytes:
    declared = dict(scope["headers"]).get(b"content-length", b"0")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _content_type(scope: Scope) -> bytes:
    return dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip().lower()


class UnexpectedErrors:
    """An unexpected exception as a 500 {"error"} answered here, inside CORS, so a widget on
    an allowed site can read it (Starlette's own 500 comes from outside every middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if started:
                raise
            log.exception("unexpected error")
            await _error(send, 500, "Something went wrong on our side; please try again.")


async def _error(
    send: Send, status: int, message: str, headers: dict[str, str] | None = None
) -> None:
    response = error_response(status, message, headers)
    await response({"type": "http"}, _no_receive, send)  # type: ignore[arg-type]


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
