"""The SSRF guard at delivery time: refused spellings, a DNS answer that turns private
after the URL was saved, a redirect to loopback, and the checked address being the one
connected to. A canary listener proves no request got through."""

import asyncio

import pytest

from app.webhooks import sender, ssrf
from app.webhooks.models import WebhookConfig
from tests.webhooks.support import account_with_order, add_events, attempts, drain, set_url
from tests.webhooks.test_config_api import refused_spellings


def resolving(answers: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("NXDOMAIN")
        return answers[host]

    return resolve


async def test_every_refused_spelling_is_refused_at_delivery(receivers):
    canary = receivers()
    async with sender.make_client() as client:
        for url in refused_spellings(canary.port):
            result = await sender.send(client, url, b"{}", secret="s", allow_private=False,
                                       timeout_seconds=3)  # fmt: skip
            assert result.status_code is None and result.error.startswith("refused"), url
    assert canary.requests == []


async def test_a_host_that_turns_private_after_saving_is_refused(
    client, factory, sessionmaker, dispatcher, receivers, monkeypatch
):
    canary = receivers()
    monkeypatch.setattr(ssrf, "system_resolver",
                        resolving({"hooks.example.com": ["93.184.216.34"]}))  # fmt: skip
    user, order_id = await account_with_order(client, factory, sessionmaker)
    await set_url(client, user, f"https://hooks.example.com:{canary.port}/hook")
    # DNS rebinding: the next answer points at loopback (where the canary listens).
    monkeypatch.setattr(ssrf, "system_resolver",
                        resolving({"hooks.example.com": ["127.0.0.1"]}))  # fmt: skip
    await add_events(sessionmaker, user.id, order_id, 1)
    await drain(dispatcher)
    (attempt,) = await attempts(sessionmaker, user.id)
    assert not attempt.succeeded and attempt.status_code is None
    assert attempt.error.startswith("refused") and "non-public" in attempt.error
    assert canary.requests == []


async def test_a_saved_url_in_a_refused_spelling_is_not_called(
    client, factory, sessionmaker, dispatcher, receivers
):
    canary = receivers()
    user, order_id = await account_with_order(client, factory, sessionmaker)
    async with sessionmaker() as session, session.begin():  # as if saved before a rule change
        await session.execute(
            WebhookConfig.__table__.insert().values(
                account_id=user.id, url=f"https://0x7f000001:{canary.port}/hook", secret="s"
            )
        )
    await add_events(sessionmaker, user.id, order_id, 1)
    await drain(dispatcher)
    (attempt,) = await attempts(sessionmaker, user.id)
    assert attempt.error.startswith("refused") and canary.requests == []


async def test_a_redirect_to_loopback_is_not_followed(
    client, factory, sessionmaker, dispatcher, allow_private, receivers
):
    canary = receivers()
    receiver = receivers(default=302, location=canary.url)
    user, order_id = await account_with_order(client, factory, sessionmaker)
    await set_url(client, user, receiver.url)
    await add_events(sessionmaker, user.id, order_id, 1)
    await drain(dispatcher)
    (attempt,) = await attempts(sessionmaker, user.id)
    assert attempt.status_code == 302 and not attempt.succeeded
    assert len(receiver.requests) == 1 and canary.requests == []


async def test_the_checked_address_is_the_one_connected_to(
    client, factory, sessionmaker, dispatcher, allow_private, receivers, monkeypatch
):
    receiver = receivers()
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"] if host == "hooks.example.test" else []

    monkeypatch.setattr(ssrf, "system_resolver", resolve)
    user, order_id = await account_with_order(client, factory, sessionmaker)
    await set_url(client, user, f"http://hooks.example.test:{receiver.port}/hook?x=1")
    calls.clear()
    await add_events(sessionmaker, user.id, order_id, 1)
    await drain(dispatcher)
    # One lookup, by our resolver; the system never resolved the made-up name itself.
    assert calls == ["hooks.example.test"]
    (got,) = receiver.requests
    assert got.headers["host"] == f"hooks.example.test:{receiver.port}"
    assert got.path == "/hook?x=1"


async def test_a_slow_receiver_times_out_in_three_seconds(receivers, settings):
    import threading

    slow = receivers(hold=threading.Event())
    started = asyncio.get_running_loop().time()
    async with sender.make_client() as client:
        result = await sender.send(client, slow.url, b"{}", secret=None, allow_private=True,
                                   timeout_seconds=settings.webhook_timeout_seconds)  # fmt: skip
    elapsed = asyncio.get_running_loop().time() - started
    assert result.error == "timeout" and result.status_code is None
    assert settings.webhook_timeout_seconds == 3 and 2.9 <= elapsed < 4.5


@pytest.mark.parametrize("status", [201, 204, 299, 300, 404, 500])
async def test_only_2xx_counts(receivers, status):
    receiver = receivers(default=status)
    async with sender.make_client() as client:
        result = await sender.send(client, receiver.url, b"{}", secret=None,
                                   allow_private=True, timeout_seconds=3)  # fmt: skip
    assert result.status_code == status and result.ok is (200 <= status < 300)
