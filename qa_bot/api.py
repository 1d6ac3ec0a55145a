"""The HTTP JSON API: POST /api/ask, POST /api/feedback and GET /api/health.

Every error has one shape, {"error": "one sentence a person can act on"}, with its status:
400 invalid JSON, 404 unknown source, 413 body too large, 415 not JSON, 422 bad fields,
429 too many questions, 503 no usable index.
"""
from __future__ import annotations

import logging
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from limits import parse as parse_rate
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from .bot import MAX_HISTORY_TURNS, MAX_QUESTION_CHARS, QABot
from .errors import ConfigError, QABotError
from .question import Turn
from .questionlog import QuestionLog

MAX_BODY_BYTES = 64 * 1024
MAX_COMMENT_CHARS = 500
log = logging.getLogger("qa_bot.api")


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: StrictStr


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "question": "When did they arrive?",
        "history": [{"role": "user",
                     "content": "How many North Korean special forces arrived in Vladivostok?"}],
        "source": "north-korea-troops-ukraine.txt",
    }]})
    question: StrictStr = Field(description=f"The reader's question, at most "
                                f"{MAX_QUESTION_CHARS:,} characters.")
    history: list[Message] = Field(default=[], max_length=MAX_HISTORY_TURNS * 2,
                                   description="Earlier messages, oldest first, for follow-ups.")
    source: StrictStr | None = Field(default=None, description="Answer from this corpus file "
                                     "only (its path relative to the corpus folder).")
    channel: Literal["api", "widget"] = Field(default="api", description="Where the question "
                                              "was asked, for the question log; the widget "
                                              "sends \"widget\".")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "3f2a9c0e5b7d4e1f8a6b2c9d0e7f1a3b", "helpful": False,
        "comment": "It does not say when they left."}]})
    id: StrictStr = Field(max_length=64, description="The id of an answer from /api/ask.")
    helpful: StrictBool = Field(description="Whether the reader found the answer helpful.")
    comment: StrictStr | None = Field(default=None, max_length=MAX_COMMENT_CHARS,
                                      description=f"The reader's words, at most "
                                      f"{MAX_COMMENT_CHARS} characters.")


class FeedbackOut(BaseModel):
    status: Literal["recorded"]


class CitationOut(BaseModel):
    n: int = Field(description="The number used as [n] in the answer.")
    source: str = Field(description="The file, relative to the corpus folder.")
    start: int = Field(description="Offset of the passage's first character in the file's text.")
    end: int = Field(description="Offset just past the passage's last character.")
    text: str = Field(description="The passage: the file's text from start to end.")
    quote: str = Field(description="The sentence(s) of the passage used in the answer, "
                       "verbatim: adjacent sentences are one slice of the source, others are "
                       "joined by \" … \". Empty for a related passage.")
    score: float
    quote_spans: list[tuple[int, int]] = Field(description="[start, end] in the file's text of "
                                               "each quoted sentence; empty for a related "
                                               "passage.")
    title: str = Field(description="The document's headline.")
    published: str | None = Field(description="The document's publication date, when known.")
    author: str | None = Field(description="The document's author, when known.")


class ShortAnswerOut(BaseModel):
    text: str = Field(description="The phrase that answers the question, inside a quoted "
                      "sentence.")
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
    short_answer: ShortAnswerOut | None = Field(description="The exact phrase that answers a "
                                                "question asking for a number, date, name or "
                                                "place; null otherwise.")
    related: list[CitationOut] = Field(description="Passages close to the question, offered as "
                                       "related reading, not as an answer (always on a decline).")


class HealthOut(BaseModel):
    status: Literal["ok"]
    build: str
    built_at: str
    model: str
    passages: int
    sources: list[str]


class ErrorOut(BaseModel):
    error: str


ERRORS = {status: {"model": ErrorOut} for status in (400, 404, 413, 415, 422, 429, 503)}


def router(bot: QABot, rate_limit: str, question_log: QuestionLog | None = None) -> APIRouter:
    """The API routes; questions asked and feedback go to `question_log` when there is one."""
    limiter = MovingWindowRateLimiter(MemoryStorage())
    try:
        limit = parse_rate(rate_limit)
    except ValueError:
        raise ConfigError(f"QA_BOT_RATE_LIMIT must look like '30/minute', not {rate_limit!r}.")

    def allowance(name: str, message: str):  # type: ignore[no-untyped-def]
        """A dependency allowing each client `limit` requests of this kind."""
        def rate_limited(request: Request) -> None:
            client = request.client.host if request.client else "unknown"
            if not limiter.hit(limit, name, client):
                reset = limiter.get_window_stats(limit, name, client).reset_time
                raise HTTPException(429, message.format(limit=limit), headers={
                    "Retry-After": str(max(1, int(reset - time.time())))})
        return rate_limited

    rate_limited = allowance("ask", "Too many questions from your address ({limit}); wait a "
                             "moment and ask again.")
    feedback_rate_limited = allowance("feedback", "Too many ratings from your address "
                                      "({limit}); wait a moment and rate again.")

    api = APIRouter(prefix="/api", tags=["api"])

    @api.post("/ask", response_model=AnswerOut, responses=ERRORS,
              dependencies=[Depends(rate_limited)])
    def ask(request: AskRequest, http: Request) -> dict[str, object]:
        """Answer a question with the article's own sentences and numbered citations."""
        history = [Turn(m.role, m.content) for m in request.history]
        began = time.perf_counter()
        answer = bot.ask(request.question, history, request.source)
        if question_log:
            question_log.record(answer, channel=request.channel, source=request.source,
                                latency=time.perf_counter() - began,
                                client=http.client.host if http.client else None)
        return answer.to_dict()

    @api.post("/feedback", response_model=FeedbackOut, responses=ERRORS,
              dependencies=[Depends(feedback_rate_limited)])
    def feedback(request: FeedbackRequest) -> dict[str, object]:
        """Record whether a reader found an answer helpful, with an optional comment."""
        if question_log is None:
            raise HTTPException(404, "Feedback is not collected here: this server keeps no "
                                "question log.")
        if not question_log.add_feedback(request.id, request.helpful, request.comment):
            raise HTTPException(404, f"No answer with this id in the question log; send the id "
                                f"of an answer from the last {question_log.days} days.")
        return {"status": "recorded"}

    @api.get("/health", response_model=HealthOut, responses=ERRORS)
    def health() -> dict[str, object]:
        """The index in use: its build, build time, model and corpus files."""
        info = bot.info()
        return {"status": "ok", "build": info.build_id, "built_at": info.built_at,
                "model": info.model, "passages": info.passages, "sources": info.sources}

    @api.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                   include_in_schema=False)
    def unknown(rest: str) -> None:
        """Anything else under /api/ gets the error shape (Gradio, mounted at /, would not)."""
        if rest in ("ask", "feedback", "health"):
            raise HTTPException(405, "This address does not take that method: use POST "
                                "/api/ask, POST /api/feedback and GET /api/health.")
        raise HTTPException(404, "There is no such API address: use POST /api/ask, POST "
                            "/api/feedback and GET /api/health.")

    return api


def add_error_handlers(app: FastAPI) -> None:
    """Every API error as {"error": sentence}: no stack traces, no framework-shaped details."""

    @app.exception_handler(QABotError)
    def bot_error(_: Request, error: QABotError) -> JSONResponse:
        return error_response(error.status, str(error))

    @app.exception_handler(HTTPException)
    def http_error(_: Request, error: HTTPException) -> JSONResponse:
        message = error.detail if isinstance(error.detail, str) else "The request failed."
        return error_response(error.status_code, message, error.headers)

    @app.exception_handler(RequestValidationError)
    def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        problem = error.errors()[0]
        if problem["type"] == "json_invalid":
            return error_response(400, "The request body is not valid JSON.")
        return error_response(422, describe(problem))

    @app.exception_handler(Exception)
    def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "Something went wrong on our side; please try again.")


def describe(problem: dict) -> str:  # type: ignore[type-arg]
    """One sentence for a pydantic validation problem."""
    location = [str(part) for part in problem["loc"] if part != "body"]
    field = ".".join(location) or "the body"
    kind = problem["type"]
    if kind == "missing":
        return f'The request needs "{field}".'
    if kind == "extra_forbidden":
        return (f'Unknown field "{field}"; the fields are question, history, source and '
                'channel.')
    if kind == "model_attributes_type" and not location:
        return 'The body must be a JSON object like {"question": "..."}.'
    if kind == "literal_error":
        return f'"{field}" must be {problem["ctx"]["expected"].replace(chr(39), chr(34))}.'
    if kind == "string_too_long":
        return f'"{field}" must be at most {problem["ctx"]["max_length"]} characters.'
    if kind == "too_long":
        return f'"{field}" has too many items; send at most {MAX_HISTORY_TURNS * 2}.'
    expected = {"string_type": "text", "list_type": "a list", "bool_type": "true or false",
                "model_type": "an object", "model_attributes_type": "an object"}
    return f'"{field}" must be {expected.get(kind, "valid")}.'


def error_response(status: int, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
