"""The JSON API over real HTTP against a live server."""

import json

import httpx
import pytest

from qa_bot.config import Settings
from qa_bot.serve.examples import load_examples
from tests.support import ASK_KEYS, CITATION_KEYS, CORPUS, LiveServer, free_port


def test_ask_answers_with_the_core_contract(live_server, article_index) -> None:
    response = httpx.post(
        f"{live_server.url}/api/ask",
        json={
            "question": "When did they arrive?",
            "history": [
                {
                    "role": "user",
                    "content": "How many North Korean special forces arrived in Vladivostok?",
                }
            ],
            "source": "north-korea-troops-ukraine.txt",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ASK_KEYS and body["answered"] is True
    assert "October 2024" in body["answer"]
    citation = body["citations"][0]
    assert set(citation) == CITATION_KEYS
    text = (article_index.parent / "corpus" / citation["source"]).read_text(encoding="utf-8")
    assert text[citation["start"] : citation["end"]] == citation["text"]
    assert [text[start:end] for start, end in citation["quote_spans"]] == [citation["quote"]]
    assert citation["title"] == text.splitlines()[0]


def test_health_names_the_build_and_sources(live_server) -> None:
    body = httpx.get(f"{live_server.url}/api/health").json()
    assert body["status"] == "ok" and body["sources"] == ["north-korea-troops-ukraine.txt"]
    assert body["built_at"] and body["build"] and body["passages"] == 7


@pytest.mark.parametrize(
    "content, headers, status, error",
    [
        ('{"question": ', {}, 400, "The request body is not valid JSON."),
        ("", {}, 400, 'The request body is empty; send a JSON object like {"question": "..."}.'),
        ('{"question": 42}', {}, 422, '"question" must be text.'),
        (
            '{"question": "   "}',
            {},
            422,
            "The question is empty; type a question about the article.",
        ),
        ("{}", {}, 422, 'The request needs "question".'),
        ('["Why?"]', {}, 422, 'The body must be a JSON object like {"question": "..."}.'),
        ('{"question": "Why?", "history": "no"}', {}, 422, '"history" must be a list.'),
        (
            '{"question": "Why?", "history": [{"role": "system", "content": "x"}]}',
            {},
            422,
            '"history.0.role" must be "user" or "assistant".',
        ),
        (
            '{"question": "Why?", "colour": "red"}',
            {},
            422,
            'Unknown field "colour"; the fields are question, history, source and channel.',
        ),
        (
            '{"question": "Why?", "source": "other.txt"}',
            {},
            404,
            "No article named 'other.txt' in the index; use one of: "
            "north-korea-troops-ukraine.txt.",
        ),
        (
            '{"question": "' + "x" * 2001 + '"}',
            {},
            422,
            "The question is 2,001 characters long; keep it under 2,000.",
        ),
        (
            '{"question": "' + "x" * 70_000 + '"}',
            {},
            413,
            "The request body is over 64 KB; send a shorter question.",
        ),
        (
            "question=Why",
            {"content-type": "application/x-www-form-urlencoded"},
            415,
            "Send the question as JSON with the header Content-Type: application/json.",
        ),
    ],
)
def test_every_bad_request_gets_one_clear_error(
    live_server, content, headers, status, error
) -> None:
    headers = {"content-type": "application/json", **headers}
    response = httpx.post(f"{live_server.url}/api/ask", content=content, headers=headers)
    assert (response.status_code, response.json()) == (status, {"error": error})
    assert httpx.get(f"{live_server.url}/api/health").status_code == 200  # still serving


@pytest.mark.parametrize(
    "content, headers, status, error",
    [
        (
            '{"id": "x", "helpful": true, "colour": "red"}',
            {},
            422,
            'Unknown field "colour"; the fields are id, helpful and comment.',
        ),
        ("[true]", {}, 422, 'The body must be a JSON object like {"id": "...", "helpful": true}.'),
        (
            "",
            {},
            400,
            'The request body is empty; send a JSON object like {"id": "...", "helpful": true}.',
        ),
        (
            '{"id": "x", "helpful": true, "comment": "' + "x" * 70_000 + '"}',
            {},
            413,
            "The request body is over 64 KB; send a shorter comment.",
        ),
        (
            "id=x",
            {"content-type": "application/x-www-form-urlencoded"},
            415,
            "Send the feedback as JSON with the header Content-Type: application/json.",
        ),
    ],
    ids=["extra field", "array", "empty", "too large", "not JSON"],
)
def test_feedback_errors_name_the_feedback_fields(
    live_server, content, headers, status, error
) -> None:
    headers = {"content-type": "application/json", **headers}
    response = httpx.post(f"{live_server.url}/api/feedback", content=content, headers=headers)
    assert (response.status_code, response.json()) == (status, {"error": error})


def test_unknown_paths_and_methods_use_the_error_shape(live_server) -> None:
    response = httpx.get(f"{live_server.url}/api/ask")
    assert response.status_code == 405 and set(response.json()) == {"error"}
    response = httpx.get(f"{live_server.url}/api/nothing")
    assert response.status_code == 404 and set(response.json()) == {"error"}


def test_cors_allows_exactly_the_configured_origins(live_server, host_origin) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    allowed = httpx.options(
        f"{live_server.url}/api/ask", headers={"Origin": host_origin, **preflight}
    )
    assert allowed.headers["access-control-allow-origin"] == host_origin
    denied = httpx.options(
        f"{live_server.url}/api/ask", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in denied.headers
    assert denied.status_code == 400 and denied.json() == {
        "error": (
            "This cross-origin request is not allowed (origin): the API takes GET and POST, with "
            "Content-Type, from the origins in QA_BOT_ALLOWED_ORIGINS."
        )
    }


def test_widget_may_be_framed_only_by_allowed_origins(live_server, host_origin) -> None:
    policy = httpx.get(f"{live_server.url}/widget").headers["content-security-policy"]
    assert f"frame-ancestors 'self' {host_origin}" in policy
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    chat_policy = httpx.get(f"{live_server.url}/").headers["content-security-policy"]
    assert f"frame-ancestors 'self' {host_origin}" in chat_policy


def test_widget_page_is_served_only_under_its_strict_policy(live_server) -> None:
    for name in ("widget-page.js", "widget-page.css"):
        assert httpx.get(f"{live_server.url}/widget-assets/{name}").status_code == 200
    for name in ("widget.html", "widget.js"):
        response = httpx.get(f"{live_server.url}/widget-assets/{name}")
        assert response.status_code == 404 and "<html" not in response.text.lower()
        assert "error" in response.json()


def test_openapi_docs_describe_the_api_without_a_cdn(live_server) -> None:
    schema = httpx.get(f"{live_server.url}/openapi.json").json()
    assert {"/api/ask", "/api/health"} <= set(schema["paths"])
    assert "413" in schema["paths"]["/api/ask"]["post"]["responses"]
    docs = httpx.get(f"{live_server.url}/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert httpx.get(f"{live_server.url}/static/swagger/swagger-ui-bundle.js").status_code == 200


def test_rate_limit_answers_429_with_the_error_shape(article_index, bot) -> None:
    settings = Settings(
        corpus_dir=article_index.parent / "corpus",
        index_dir=article_index,
        port=free_port(),
        rate_limit="3/minute",
    )
    with LiveServer(settings, bot) as server:
        statuses = [
            httpx.post(f"{server.url}/api/ask", json={"question": "Why?"}).status_code
            for _ in range(4)
        ]
        limited = httpx.post(f"{server.url}/api/ask", json={"question": "Why?"})
        assert statuses[:3] == [200, 200, 200] and limited.status_code == 429
        assert limited.json()["error"].startswith("Too many questions from your address")
        assert int(limited.headers["retry-after"]) >= 1
        assert httpx.get(f"{server.url}/api/health").status_code == 200


def test_concurrent_questions_are_all_answered(live_server) -> None:
    import concurrent.futures

    def ask(question: str) -> int:
        return httpx.post(
            f"{live_server.url}/api/ask", json={"question": question}, timeout=60
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(ask, ["Where did the special forces train?"] * 24))
    assert codes == [200] * 24


def test_examples_are_served_for_all_articles_or_one(live_server) -> None:
    examples = json.loads((CORPUS / "examples.json").read_text(encoding="utf-8"))
    for query in ("", "?source=north-korea-troops-ukraine.txt"):
        response = httpx.get(f"{live_server.url}/api/examples{query}")
        assert (response.status_code, response.json()) == (200, {"examples": examples})
    response = httpx.get(f"{live_server.url}/api/examples?source=other.txt")
    assert (response.status_code, response.json()) == (
        404,
        {
            "error": (
                "No article named 'other.txt' in the index; use one of: "
                "north-korea-troops-ukraine.txt."
            )
        },
    )
    schema = httpx.get(f"{live_server.url}/openapi.json").json()["paths"]["/api/examples"]["get"]
    assert set(schema["responses"]) == {"200", "404", "422", "503"}


def test_examples_may_be_kept_per_article(tmp_path) -> None:
    (tmp_path / "examples.json").write_text(
        json.dumps({"a.txt": ["Who won?", "When?"], "b.txt": ["Where?", "Who won?", 7]}),
        encoding="utf-8",
    )
    assert load_examples(tmp_path, "a.txt") == ["Who won?", "When?"]
    assert load_examples(tmp_path, "b.txt") == ["Where?", "Who won?"]
    assert load_examples(tmp_path, "c.txt") == []
    assert load_examples(tmp_path) == ["Who won?", "When?", "Where?"]
    (tmp_path / "examples.json").write_text("[not json", encoding="utf-8")
    assert load_examples(tmp_path) == []
    (tmp_path / "examples.json").unlink()
    (tmp_path / "examples.json").mkdir()  # a folder where the file should be: no examples
    assert load_examples(tmp_path) == []
