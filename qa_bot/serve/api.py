"""The HTTP JSON API: POST /api/ask, POST /api/feedback, GET /api/examples and GET /api/health.

Every error has one shape, {"error": "one sentence a person can act on"}, with its status:
400 invalid or empty JSON, 404 unknown source or address, 405 wrong method (with Allow), 408 body
too slow, 413 body too large, 415 not JSON, 422 bad fields, 429 too many requests, 500 our fault,
503 no usable index. Body limits and the rate limit are middleware (guards.py): they must also
cover the chat's entrances, which FastAPI routes never see.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from qa_bot.answer.ask_request import NOT_JSON, AskRequest, describe
from qa_bot.answer.bot import QABot
from qa_bot.errors import INDEX_UNAVAILABLE, QABotError, UnknownSource
from qa_bot.questionlog.log import QuestionLog
from qa_bot.serve.examples import load_examples

# What each address takes; anything else gets 405 with this as the Allow header.
ALLOWED_METHODS = {
    "ask": "POST, OPTIONS",
    "feedback": "POST, OPTIONS",
    "examples": "GET, OPTIONS",
    "health": "GET, HEAD, OPTIONS",
}
ROUTED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]
NO_SUCH_ADDRESS = (
    "There is no such API address: use POST /api/ask, POST /api/feedback, GET "
    "/api/examples and GET /api/health."
)
MAX_COMMENT_CHARS = 500


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "3f2a9c0e5b7d4e1f8a6b2c9d0e7f1a3b",
                    "helpful": False,
                    "comment": "It does not say when they left.",
                }
            ]
        },
    )
    id: StrictStr = Field(
        min_length=1, max_length=64, description="The id of an answer from /api/ask."
    )
    helpful: StrictBool = Field(description="Whether the reader found the answer helpful.")
    comment: StrictStr | None = Field(
        default=None,
        max_length=MAX_COMMENT_CHARS,
        description=f"The reader's words, at most {MAX_COMMENT_CHARS} characters.",
    )


class FeedbackOut(BaseModel):
    status: Literal["recorded"]


class CitationOut(BaseModel):
    n: int = Field(description="The number used as [n] in the answer.")
    source: str = Field(description="The file, relative to the corpus folder.")
    start: int = Field(description="Offset of the passage's first character in the file's text.")
    end: int = Field(description="Offset just past the passage's last character.")
    text: str = Field(description="The passage: the file's text from start to end.")
    quote: str = Field(
        description="The sentence(s) of the passage used in the answer, "
        "verbatim: adjacent sentences are one slice of the source, others are "
        'joined by " … ". Empty for a related passage.'
    )
    score: float
    quote_spans: list[tuple[int, int]] = Field(
        description="[start, end] in the file's text of "
        "each quoted sentence; empty for a related "
        "passage."
    )
    title: str = Field(description="The document's headline.")
    published: str | None = Field(description="The document's publication date, when known.")
    author: str | None = Field(description="The document's author, when known.")


class ShortAnswerOut(BaseModel):
    text: str = Field(description="The phrase that answers the question, inside a quoted sentence.")
    source: str
    start: int = Field(description="Offset of the phrase in the file's text.")
    end: int


class AnswerOut(BaseModel):
    id: str = Field(description="This answer's id, fresh for every answer.")
    question: str
    answer: str = Field(description="The article's own sentences, each followed by [n].")
    answered: bool = Field(description="False when the bot declines: the article does not say.")
    confidence: float = Field(ge=0, le=1)
    citations: list[CitationOut]
    short_answer: ShortAnswerOut | None = Field(
        description="The exact phrase that answers a "
        "question asking for a number, date, name or "
        "place; null otherwise."
    )
    related: list[CitationOut] = Field(
        description="Passages close to the question, offered as "
        "related reading, not as an answer (always on a decline)."
    )


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description='"degraded" while an older build '
        "answers because the newest could not be loaded."
    )
    problem: str | None = Field(description="Why the status is degraded; null when ok.")
    build: str
    built_at: str
    model: str
    passages: int
    sources: list[str]


class ExamplesOut(BaseModel):
    examples: list[str] = Field(
        description="Questions a reader might ask, at most six; empty when the corpus offers none."
    )


class ErrorOut(BaseModel):
    error: str


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (400, 404, 408, 413, 415, 422, 429, 503)
}


@dataclass(frozen=True)
class JsonBody:
    """What a POST address of the API takes, so that each of its errors names its own fields
    (the body limits in guards.py use it too)."""

    model: type[BaseModel]
    what: str  # what the body carries
    example: str  # the smallest body that is right
    longest: str  # the field that makes a body long

    def not_json(self) -> str:
        return f"Send the {self.what} as JSON with the header Content-Type: application/json."

    def too_large(self, cap: int) -> str:
        return f"The request body is over {cap // 1024} KB; send a shorter {self.longest}."

    def problem(self, problem: Any) -> tuple[int, str]:
        """The status and sentence for the first problem pydantic found in a body: the ask
        request's fields are described as everywhere else (request.describe)."""
        location = [str(part) for part in problem["loc"] if part != "body"]
        kind = problem["type"]
        if not location and kind == "missing":  # FastAPI reads an empty body as none at all
            return 400, f"The request body is empty; send a JSON object like {self.example}."
        if not location and kind in ("model_type", "model_attributes_type", "dict_type"):
            return 422, f"The body must be a JSON object like {self.example}."
        if kind == "extra_forbidden":
            *names, last = self.model.model_fields
            return 422, (
                f'Unknown field "{".".join(location)}"; the fields are '
                f"{', '.join(names)} and {last}."
            )
        return 422, describe(problem)


JSON_BODIES = {
    "/api/ask": JsonBody(AskRequest, "question", '{"question": "..."}', "question"),
    "/api/feedback": JsonBody(
        FeedbackRequest, "feedback", '{"id": "...", "helpful": true}', "comment"
    ),
}


def router(bot: QABot, question_log: QuestionLog | None, corpus_dir: Path) -> APIRouter:
    """The API routes; questions asked and feedback go to `question_log` when there is one,
    example questions come from `corpus_dir`'s examples.json."""
    api = APIRouter(prefix="/api", tags=["api"])

    @api.post("/ask", response_model=AnswerOut, responses=ERRORS)
    def ask(request: AskRequest, http: Request) -> dict[str, object]:
        """Answer a question with the article's own sentences and numbered citations."""
        began = time.perf_counter()
        answer = bot.ask(request.question, request.turns, request.source)
        if question_log:
            question_log.record(
                answer,
                channel=request.channel,
                source=request.source,
                latency=time.perf_counter() - began,
                client=http.client.host if http.client else None,
            )
        return answer.to_dict()

    @api.post("/feedback", response_model=FeedbackOut, responses=ERRORS)
    def feedback(request: FeedbackRequest) -> dict[str, object]:
        """Record whether a reader found an answer helpful, with an optional comment."""
        if question_log is None:
            raise HTTPException(
                404, "Feedback is not collected here: this server keeps no question log."
            )
        if not question_log.add_feedback(request.id, request.helpful, request.comment):
            raise HTTPException(
                404,
                f"No answer with this id in the question log; send the id "
                f"of an answer from the last {question_log.days} days.",
            )
        return {"status": "recorded"}

    @api.get(
        "/examples",
        response_model=ExamplesOut,
        responses={404: {"model": ErrorOut}, 503: {"model": ErrorOut}},
    )
    def examples(source: str | None = None) -> dict[str, object]:
        """Example questions for readers to tap: for one corpus file (`source`), or for all."""
        if source is not None:
            known = bot.info().sources
            if source not in known:
                raise UnknownSource(
                    f"No article named {source!r} in the index; use one of: {', '.join(known)}."
                )
        return {"examples": load_examples(corpus_dir, source)}

    @api.get("/health", response_model=HealthOut, responses={503: {"model": ErrorOut}})
    def health() -> dict[str, object]:
        """The index in use: its build, build time, model and corpus files. 503 when there is
        no usable build, "degraded" while an older build answers."""
        info = bot.info()
        return {
            "status": "degraded" if info.problem else "ok",
            "problem": info.problem,
            "build": info.build_id,
            "built_at": info.built_at,
            "model": info.model,
            "passages": info.passages,
            "sources": info.sources,
        }

    @api.head("/health", include_in_schema=False)
    def health_head() -> Response:
        health()
        return Response(media_type="application/json")

    @api.api_route("/{rest:path}", methods=ROUTED_METHODS, include_in_schema=False)
    def other(rest: str, request: Request) -> Response:
        """Anything else under /api/ gets the error shape (Gradio, mounted at /, would not)."""
        allowed = ALLOWED_METHODS.get(rest)
        if allowed is None:
            raise HTTPException(404, NO_SUCH_ADDRESS)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allowed})
        raise HTTPException(
            405, f"/api/{rest} takes {allowed}, not {request.method}.", headers={"Allow": allowed}
        )

    return api


class OtherMethods:
    """Methods no route lists (QUERY, PROPFIND, ...) on /api/: 405 or 404 in the error shape
    here, before Gradio, mounted at /, answers them in its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope["path"].startswith("/api/")
            or scope["method"] in ROUTED_METHODS
        ):
            return await self.app(scope, receive, send)
        allowed = ALLOWED_METHODS.get(scope["path"].removeprefix("/api/"))
        response = (
            error_response(404, NO_SUCH_ADDRESS)
            if allowed is None
            else error_response(
                405, f"{scope['path']} takes {allowed}, not {scope['method']}.", {"Allow": allowed}
            )
        )
        await response(scope, receive, send)


def add_error_handlers(app: FastAPI) -> None:
    """Every API error as {"error": sentence}: no stack traces, no framework-shaped details.
    Unexpected exceptions are answered by guards.UnexpectedErrors, inside CORS."""

    @app.exception_handler(QABotError)
    def bot_error(request: Request, error: QABotError) -> JSONResponse:
        if error.status == 503 and request.url.path != "/api/health":
            return error_response(503, INDEX_UNAVAILABLE)  # the bot logged the cause on loading
        return error_response(error.status, str(error))

    @app.exception_handler(HTTPException)  # Starlette's: FastAPI's is a subclass
    def http_error(_: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 400:  # the body parser's, for undecodable or too deep JSON
            return error_response(400, NOT_JSON)
        message = error.detail if isinstance(error.detail, str) else "The request failed."
        headers = dict(error.headers) if error.headers else None
        return error_response(error.status_code, message, headers)

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        problem = error.errors()[0]
        if problem["type"] == "json_invalid":
            return error_response(400, NOT_JSON)
        return error_response(*JSON_BODIES[request.url.path].problem(problem))


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
