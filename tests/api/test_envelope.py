"""Framework-level behaviour through the real app: every failure is the one envelope, and
every response carries an X-Request-Id."""

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import BaseModel

from app.config import Settings
from app.main import create_app
from tests.factories import AccountWithToken, Factory

ONE_MB = 1_048_576
SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class Quantity(BaseModel):
    n: int


@pytest.fixture(scope="module")
async def probe_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The real app plus test-only routes: one that reads a JSON body, one that crashes."""
    application = create_app(settings)

    @application.post("/test/quantity")
    async def echo_quantity(body: Quantity) -> dict[str, int]:
        return {"n": body.n}

    @application.get("/test/crash")
    async def crash() -> None:
        raise RuntimeError("secret-internal-detail")

    async with LifespanManager(application):
        yield application


@pytest.fixture
async def probe(probe_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=probe_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
        yield c


@pytest.fixture
async def user(factory: Factory) -> AccountWithToken:
    return await factory.account(balance=1_000)


def assert_failure(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The failure envelope, exactly: no extra keys, and `details` never null."""
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"success", "error"}
    assert body["success"] is False
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) <= {"code", "message", "details"}
    if "details" in error:
        assert isinstance(error["details"], dict) and error["details"]
    return error


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A body sent chunked, with no Content-Length for the server to check up front."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece


class TestUnknownRoute:
    async def test_is_404_not_found_envelope(self, client):
        response = await client.get("/v1/no-such-thing")
        error = assert_failure(response, 404, "NOT_FOUND")
        assert "details" not in error

    async def test_unknown_version_prefix(self, client):
        assert_failure(await client.get("/v9/balance"), 404, "NOT_FOUND")


class TestWrongMethod:
    async def test_is_405_with_allow_header(self, client, user):
        response = await client.post("/v1/balance", headers=user.headers)
        error = assert_failure(response, 405, "METHOD_NOT_ALLOWED")
        assert "details" not in error
        assert response.headers["allow"] == "GET"

    async def test_without_token_still_405(self, client):
        response = await client.delete("/v1/catalog/countries")
        assert_failure(response, 405, "METHOD_NOT_ALLOWED")
        assert response.headers["allow"] == "GET"


class TestBodyTooLarge:
    async def test_by_content_length(self, probe):
        response = await probe.post(
            "/test/quantity",
            content=b"x" * (ONE_MB + 1),
            headers={"content-type": "application/json"},
        )
        error = assert_failure(response, 413, "PAYLOAD_TOO_LARGE")
        assert "details" not in error

    async def test_by_content_length_before_routing(self, client):
        response = await client.post("/v1/no-such-thing", content=b"x" * (ONE_MB + 1))
        assert_failure(response, 413, "PAYLOAD_TOO_LARGE")

    async def test_streamed_without_content_length(self, probe):
        response = await probe.post(
            "/test/quantity",
            content=chunks(ONE_MB + 1),
            headers={"content-type": "application/json"},
        )
        assert_failure(response, 413, "PAYLOAD_TOO_LARGE")

    async def test_exactly_the_limit_reaches_the_handler(self, probe):
        # A valid JSON document padded with whitespace to exactly 1 MB is not too large.
        document = b'{"n": 7}'
        body = document + b" " * (ONE_MB - len(document))
        response = await probe.post(
            "/test/quantity", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200
        assert response.json() == {"n": 7}

    async def test_streamed_small_body_reaches_the_handler(self, probe):
        async def small() -> AsyncIterator[bytes]:
            yield b'{"n":'
            yield b" 41}"

        response = await probe.post(
            "/test/quantity", content=small(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 200
        assert response.json() == {"n": 41}


class TestValidation:
    async def test_malformed_json(self, probe):
        response = await probe.post(
            "/test/quantity", content=b'{"n": 1,', headers={"content-type": "application/json"}
        )
        error = assert_failure(response, 422, "VALIDATION_ERROR")
        fields = error["details"]["fields"]
        assert len(fields) == 1
        assert fields[0]["message"] == "Malformed JSON body."
        assert set(fields[0]) == {"field", "message"}

    async def test_malformed_json_blames_the_body(self, probe):
        # The offending "field" is the body itself, not the parser's character offset.
        response = await probe.post(
            "/test/quantity", content=b'{"n": 1,', headers={"content-type": "application/json"}
        )
        error = assert_failure(response, 422, "VALIDATION_ERROR")
        assert error["details"]["fields"] == [{"field": "body", "message": "Malformed JSON body."}]
        assert error["message"] == "body: Malformed JSON body."

    async def test_non_object_body_blames_the_body(self, probe):
        response = await probe.post("/test/quantity", json=[1])
        error = assert_failure(response, 422, "VALIDATION_ERROR")
        assert [f["field"] for f in error["details"]["fields"]] == ["body"]

    async def test_wrong_type_names_the_field(self, probe):
        response = await probe.post("/test/quantity", json={"n": "many"})
        error = assert_failure(response, 422, "VALIDATION_ERROR")
        fields = error["details"]["fields"]
        assert [f["field"] for f in fields] == ["n"]
        assert fields[0]["message"]
        assert error["message"].startswith("n: ")

    async def test_missing_field_names_the_field(self, probe):
        response = await probe.post("/test/quantity", json={})
        error = assert_failure(response, 422, "VALIDATION_ERROR")
        assert [f["field"] for f in error["details"]["fields"]] == ["n"]

    async def test_valid_body_passes(self, probe):
        response = await probe.post("/test/quantity", json={"n": 3})
        assert response.status_code == 200 and response.json() == {"n": 3}


class TestUnexpectedException:
    async def test_is_500_internal_error_without_leaks(self, probe):
        response = await probe.get("/test/crash")
        error = assert_failure(response, 500, "INTERNAL_ERROR")
        assert "details" not in error
        text = response.text
        for leak in ("secret-internal-detail", "RuntimeError", "Traceback", 'File "'):
            assert leak not in text


class TestRequestId:
    async def test_sane_id_is_echoed(self, client, user):
        response = await client.get(
            "/v1/balance", headers={**user.headers, "X-Request-Id": "req-42.a:b_C"}
        )
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "req-42.a:b_C"

    async def test_longest_sane_id_is_echoed(self, client, user):
        sane = "a" * 128
        response = await client.get("/v1/balance", headers={**user.headers, "X-Request-Id": sane})
        assert response.headers["x-request-id"] == sane

    @pytest.mark.parametrize(
        "insane",
        [b"has spaces in it", b"a" * 500, b"a" * 129, b"semi;colon", b"<script>", "é".encode()],
    )
    async def test_insane_id_is_replaced(self, client, user, insane):
        response = await client.get("/v1/balance", headers={**user.headers, "X-Request-Id": insane})
        assert response.status_code == 200
        generated = response.headers.raw
        ids = [value for name, value in generated if name.lower() == b"x-request-id"]
        assert len(ids) == 1 and ids[0] != insane
        assert SANE_ID.match(ids[0].decode("ascii"))

    async def test_generated_when_absent(self, client, user):
        first = await client.get("/v1/balance", headers=user.headers)
        second = await client.get("/v1/balance", headers=user.headers)
        assert first.headers["x-request-id"]
        assert SANE_ID.match(first.headers["x-request-id"])
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    async def test_exactly_one_header(self, client, user):
        response = await client.get(
            "/v1/balance", headers={**user.headers, "X-Request-Id": "only-once"}
        )
        assert response.headers.get_list("x-request-id") == ["only-once"]

    async def test_on_404(self, client):
        response = await client.get("/v1/nope", headers={"X-Request-Id": "on-404"})
        assert_failure(response, 404, "NOT_FOUND")
        assert response.headers["x-request-id"] == "on-404"

    async def test_on_401(self, client):
        response = await client.get("/v1/balance", headers={"X-Request-Id": "on-401"})
        assert_failure(response, 401, "UNAUTHORIZED")
        assert response.headers["x-request-id"] == "on-401"

    async def test_on_405(self, client):
        response = await client.put("/v1/balance", headers={"X-Request-Id": "on-405"})
        assert_failure(response, 405, "METHOD_NOT_ALLOWED")
        assert response.headers["x-request-id"] == "on-405"

    async def test_on_413_by_content_length(self, probe):
        response = await probe.post(
            "/test/quantity", content=b"x" * (ONE_MB + 1), headers={"X-Request-Id": "on-413"}
        )
        assert_failure(response, 413, "PAYLOAD_TOO_LARGE")
        assert response.headers["x-request-id"] == "on-413"

    async def test_on_413_streamed(self, probe):
        response = await probe.post(
            "/test/quantity", content=chunks(2 * ONE_MB), headers={"X-Request-Id": "on-413-s"}
        )
        assert_failure(response, 413, "PAYLOAD_TOO_LARGE")
        assert response.headers["x-request-id"] == "on-413-s"

    async def test_on_422(self, probe):
        response = await probe.post(
            "/test/quantity", json={"n": "x"}, headers={"X-Request-Id": "on-422"}
        )
        assert_failure(response, 422, "VALIDATION_ERROR")
        assert response.headers["x-request-id"] == "on-422"

    async def test_on_500(self, probe):
        response = await probe.get("/test/crash", headers={"X-Request-Id": "on-500"})
        assert_failure(response, 500, "INTERNAL_ERROR")
        assert response.headers["x-request-id"] == "on-500"

    async def test_generated_on_500_when_absent(self, probe):
        response = await probe.get("/test/crash")
        assert SANE_ID.match(response.headers["x-request-id"])
