"""PATCH /v1/webhook and POST /v1/webhook/test (and /v2) against API.md."""

import json
import re
from datetime import UTC, datetime

import pytest
from smscode import verify_webhook_signature
from sqlalchemy import update

from app.webhooks import ssrf
from app.webhooks.models import WebhookConfig
from tests.orders_api.support import error_of
from tests.webhooks.support import set_url

EMPTY = {"webhook_url": None, "webhook_secret": None, "webhook_disabled_at": None,
         "webhook_disabled_reason": None, "webhook_consecutive_failures": 0}  # fmt: skip


@pytest.fixture
async def user(factory):
    return await factory.account()


@pytest.mark.parametrize("prefix", ["/v1", "/v2"])
async def test_first_url_generates_a_secret_and_empty_string_clears(
    client, user, allow_private, receivers, prefix
):
    url = receivers().url
    assert (await client.get(f"{prefix}/webhook", headers=user.headers)).json()["data"] == EMPTY
    response = await client.patch(f"{prefix}/webhook", json={"webhook_url": url},
                                  headers=user.headers)  # fmt: skip
    data = response.json()["data"]
    assert response.status_code == 200 and data["webhook_url"] == url
    assert re.fullmatch(r"[0-9a-f]{64}", data["webhook_secret"])
    again = await client.get(f"{prefix}/webhook", headers=user.headers)
    assert again.json()["data"] == data

    # A new URL keeps the secret; an explicit secret replaces it; "" clears each field.
    kept = await set_url(client, user, url + "/2")
    assert kept["webhook_secret"] == data["webhook_secret"]
    response = await client.patch(f"{prefix}/webhook", json={"webhook_secret": "mine-123"},
                                  headers=user.headers)  # fmt: skip
    assert response.json()["data"]["webhook_secret"] == "mine-123"
    response = await client.patch(f"{prefix}/webhook", json={"webhook_secret": ""},
                                  headers=user.headers)  # fmt: skip
    assert response.json()["data"]["webhook_secret"] is None
    response = await client.patch(f"{prefix}/webhook", json={"webhook_url": ""},
                                  headers=user.headers)  # fmt: skip
    assert response.json()["data"] == EMPTY


async def test_a_first_url_with_its_own_secret_keeps_it(client, user, allow_private, receivers):
    data = await set_url(client, user, receivers().url, webhook_secret="s3cret")
    assert data["webhook_secret"] == "s3cret"


@pytest.mark.parametrize("body", [{}, {"other": 1}])
async def test_at_least_one_field(client, user, body):
    response = await client.patch("/v1/webhook", json=body, headers=user.headers)
    assert response.status_code == 422 and error_of(response)["code"] == "VALIDATION_ERROR"
    assert (await client.get("/v1/webhook", headers=user.headers)).json()["data"] == EMPTY


@pytest.mark.parametrize(
    "body",
    [{"webhook_url": 5}, {"webhook_url": "https://" + "a" * 2050 + ".com/"},
     {"webhook_secret": "x" * 257}, {"webhook_secret": "bad\nsecret"}],
)  # fmt: skip
async def test_bad_values_are_422_with_the_field(client, user, body):
    response = await client.patch("/v1/webhook", json=body, headers=user.headers)
    assert response.status_code == 422
    fields = [f["field"] for f in error_of(response)["details"]["fields"]]
    assert fields == list(body)


async def test_patch_reenables_and_resets_the_counter(client, user, sessionmaker, allow_private,
                                                      receivers):  # fmt: skip
    url = receivers().url
    await set_url(client, user, url)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(WebhookConfig).values(
                consecutive_failures=10, disabled_reason="consecutive_failed_user_endpoint",
                disabled_at=datetime(2026, 11, 23, tzinfo=UTC),
            )
        )  # fmt: skip
    before = (await client.get("/v1/webhook", headers=user.headers)).json()["data"]
    assert before["webhook_disabled_at"] == "2026-11-23T00:00:00Z"
    assert before["webhook_consecutive_failures"] == 10
    response = await client.patch("/v1/webhook", json={"webhook_secret": "new-secret"},
                                  headers=user.headers)  # fmt: skip
    data = response.json()["data"]
    assert data["webhook_disabled_at"] is None and data["webhook_disabled_reason"] is None
    assert data["webhook_consecutive_failures"] == 0 and data["webhook_url"] == url


# --- the SSRF guard at save time --------------------------------------------------------------


def refused_spellings(port: int) -> list[str]:
    """Loopback, private, link-local and other non-public hosts, in many spellings, on the
    canary's port (so a request that slipped through would reach it)."""
    hosts = ["127.0.0.1", "127.1", "0x7f000001", "017700000001", "2130706433", "0x7f.0.0.1",
             "0177.0.0.01", "[::1]", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]",
             "[::ffff:7f00:1]", "localhost", "0.0.0.0", "0", "[::]", "10.0.0.1", "172.16.0.1",
             "192.168.1.1", "0xc0a80101", "3232235777", "169.254.169.254", "0xa9fea9fe",
             "2852039166", "[fe80::1]", "[::ffff:169.254.169.254]", "100.64.0.1", "[fd00::1]",
             "224.0.0.1", "240.0.0.1", "[2002:7f00:0001::1]"]  # fmt: skip
    urls = [f"https://{h}:{port}/hook" for h in hosts]
    return urls + [f"http://127.0.0.1:{port}/hook", f"http://hooks.example.com:{port}/hook"]


async def test_patch_refuses_every_spelling_and_saves_nothing(client, user, receivers):
    canary = receivers()
    for url in refused_spellings(canary.port):
        response = await client.patch("/v1/webhook", json={"webhook_url": url},
                                      headers=user.headers)  # fmt: skip
        assert response.status_code == 422, url
        assert error_of(response)["details"]["fields"][0]["field"] == "webhook_url"
    assert (await client.get("/v1/webhook", headers=user.headers)).json()["data"] == EMPTY
    assert canary.requests == []


async def test_patch_refuses_a_name_resolving_to_a_private_address(
    client, user, receivers, monkeypatch
):
    canary = receivers()

    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "127.0.0.1"] if host == "hooks.example.com" else []

    monkeypatch.setattr(ssrf, "system_resolver", resolve)
    response = await client.patch(
        "/v1/webhook", json={"webhook_url": f"https://hooks.example.com:{canary.port}/"},
        headers=user.headers,
    )  # fmt: skip
    assert response.status_code == 422 and "non-public" in error_of(response)["message"]
    assert canary.requests == []


# --- POST /webhook/test -------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/v1", "/v2"])
async def test_test_event_reports_the_status_as_is_and_is_signed(
    client, user, allow_private, receivers, prefix
):
    receiver = receivers(statuses=[418])
    secret = (await set_url(client, user, receiver.url))["webhook_secret"]
    response = await client.post(f"{prefix}/webhook/test", headers=user.headers)
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"status_code": 418}}
    assert b"secret body" not in response.content
    (got,) = receiver.requests
    body = json.loads(got.body)
    assert set(body) == {"event", "timestamp", "data"} and body["event"] == "webhook.test"
    assert set(body["data"]) == {"message"}
    assert verify_webhook_signature(got.body, got.headers["x-webhook-signature"], secret)
    assert got.headers["content-type"] == "application/json"


async def test_test_without_url_is_422(client, user):
    response = await client.post("/v1/webhook/test", headers=user.headers)
    assert response.status_code == 422 and error_of(response)["code"] == "VALIDATION_ERROR"


async def test_test_does_not_follow_a_redirect(client, user, allow_private, receivers):
    canary = receivers()
    receiver = receivers(default=302, location=canary.url)
    await set_url(client, user, receiver.url)
    response = await client.post("/v1/webhook/test", headers=user.headers)
    assert response.json()["data"] == {"status_code": 302}
    assert len(receiver.requests) == 1 and canary.requests == []


async def test_test_without_a_secret_is_unsigned(client, user, allow_private, receivers):
    receiver = receivers()
    await set_url(client, user, receiver.url, webhook_secret="")
    await client.post("/v1/webhook/test", headers=user.headers)
    assert "x-webhook-signature" not in receiver.requests[0].headers


async def test_an_endpoint_that_does_not_answer_is_422(client, user, allow_private, receivers):
    gone = receivers()
    url = gone.url
    gone.close()
    await set_url(client, user, url)
    response = await client.post("/v1/webhook/test", headers=user.headers)
    assert response.status_code == 422 and "did not answer" in error_of(response)["message"]
