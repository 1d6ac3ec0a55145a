"""An ask request, parsed in one place for the CLI's JSON lines, the JSON API and the chat.

`AskRequest` is the request's one definition: it checks a request, gives the API its OpenAPI
schema (so the schema says exactly what is enforced), and `describe` turns its first problem
into the one sentence every interface shows. To add a field, add it to AskRequest (and give
`describe` a sentence for any new kind of problem it can have).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, ValidationError
from pydantic_core import PydanticCustomError

from qa_bot.answer.question import Turn
from qa_bot.errors import InvalidQuestion

MAX_QUESTION_CHARS = 2000
MAX_HISTORY_MESSAGES = 100  # 50 questions and their answers; the widget sends as many
EMPTY_QUESTION = "The question is empty; type a question about the article."
NOT_JSON = "The request body is not valid JSON."


def encodable(text: str) -> str:
    """Text that can be encoded as UTF-8: no lone surrogates (JSON can carry them, "\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("unencodable", "text with an unpaired surrogate") from None
    return text


Text = Annotated[StrictStr, AfterValidator(encodable)]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Literal["user", "assistant"]
    content: Text


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        regex_engine="python-re",
        json_schema_extra={
            "examples": [
                {
                    "question": "When did they arrive?",
                    "history": [
                        {
                            "role": "user",
                            "content": "How many North "
                            "Korean special forces arrived in Vladivostok?",
                        }
                    ],
                    "source": "north-korea-troops-ukraine.txt",
                }
            ]
        },
    )
    question: Annotated[
        StrictStr,
        Field(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=r"^\s*\S"),
        AfterValidator(encodable),
    ] = Field(
        description=f"The reader's question: at most {MAX_QUESTION_CHARS:,} characters, not "
        "only spaces."
    )
    history: list[Message] = Field(
        default=[],
        max_length=MAX_HISTORY_MESSAGES,
        description=f"Earlier messages, oldest first, for follow-ups; at most "
        f"{MAX_HISTORY_MESSAGES}.",
    )
    source: Text | None = Field(
        default=None,
        description="Answer from this corpus file only (its path relative to the corpus folder).",
    )
    channel: Literal["api", "widget"] = Field(
        default="api",
        description="Where the question "
        "was asked, for the question log; the widget "
        'sends "widget".',
    )

    @property
    def turns(self) -> list[Turn]:
        return [Turn(message.role, message.content) for message in self.history]


def parse_ask_request(data: object) -> AskRequest:
    """A request from decoded JSON; InvalidQuestion (one sentence) when it is not one."""
    try:
        return AskRequest.model_validate(data)
    except ValidationError as error:
        raise InvalidQuestion(describe(error.errors()[0])) from None


def describe(problem: Any) -> str:
    """One sentence for the first problem pydantic found in a request."""
    location = [str(part) for part in problem["loc"] if part != "body"]
    field = ".".join(location) or "the body"
    kind = problem["type"]
    if location == ["question"] and kind in ("string_too_short", "string_pattern_mismatch"):
        return EMPTY_QUESTION
    if location == ["question"] and kind == "string_too_long":
        return too_long(problem["input"])
    if kind == "missing":
        return f'The request needs "{field}".'
    if kind == "extra_forbidden":
        *names, last = AskRequest.model_fields
        return f'Unknown field "{field}"; the fields are {", ".join(names)} and {last}.'
    if kind in ("model_type", "model_attributes_type", "dict_type") and not location:
        return 'The body must be a JSON object like {"question": "..."}.'
    if kind == "too_long":
        return f'"{field}" has too many items; send at most {MAX_HISTORY_MESSAGES}.'
    if kind in ("unencodable", "string_unicode"):
        return f'"{field}" must be valid Unicode text; it holds an unpaired surrogate.'
    if kind == "literal_error":
        return f'"{field}" must be {problem["ctx"]["expected"].replace(chr(39), chr(34))}.'
    if kind == "string_too_long":
        return f'"{field}" must be at most {problem["ctx"]["max_length"]} characters.'
    expected = {
        "string_type": "text",
        "list_type": "a list",
        "bool_type": "true or false",
        "model_type": "an object",
        "model_attributes_type": "an object",
    }
    return f'"{field}" must be {expected.get(kind, "valid")}.'


def validate_question(question: object) -> str:
    """The question stripped, or InvalidQuestion: the CLI's and the library's check."""
    if not isinstance(question, str):
        raise InvalidQuestion("The question must be text.")
    question = question.strip()
    if not question:
        raise InvalidQuestion(EMPTY_QUESTION)
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestion(too_long(question))
    return question


def too_long(question: str) -> str:
    return (
        f"The question is {len(question):,} characters long; keep it under {MAX_QUESTION_CHARS:,}."
    )
