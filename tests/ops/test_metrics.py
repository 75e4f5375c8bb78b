"""/metrics in one process: the families, values that move with requests and orders, the
database gauges, the helpers other components call, and the optional token."""

import pytest
from pydantic import SecretStr

from app.observability import metrics
from app.providers.base import Rejected, Unavailable
from app.providers.calls import provider_call
from tests.factories import Factory
from tests.ops.support import parse_metrics, total, value
from tests.orders_api.support import START, create_one

EXPECTED_FAMILIES = {
    "smsgate_http_requests",
    "smsgate_http_request_duration_seconds",
    "smsgate_provider_calls",
    "smsgate_provider_call_duration_seconds",
    "smsgate_provider_breaker_state",
    "smsgate_webhook_deliveries",
    "smsgate_poller_rounds",
    "smsgate_poller_heartbeat_timestamp_seconds",
    "smsgate_metrics_database_up",
    "smsgate_orders",
    "smsgate_poller_lag_seconds",
    "smsgate_outbox_backlog",
    "smsgate_outbox_oldest_age_seconds",
    "smsgate_ledger_entries",
    "smsgate_ledger_amount_idr",
    "smsgate_accounts",
    "smsgate_account_balances_idr",
}


@pytest.fixture(autouse=True)
def fresh_db_gauges(app, monkeypatch):
    """Database gauges re-read at every scrape (the default remembers them 5 s)."""
    monkeypatch.setattr(app.state.runtime.metrics_db, "ttl", 0)


async def scrape(client) -> dict:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    families, samples = parse_metrics(response.text)
    assert EXPECTED_FAMILIES <= families, EXPECTED_FAMILIES - families
    return samples


async def test_requests_counted_by_route_template(client, factory: Factory):
    user = await factory.account(balance=0)
    before = await scrape(client)
    # "orders" as an id (a 422) once fooled the template into "/v1/{order_id}/{order_id}".
    for order_id in (1, 2, "orders"):
        assert (await client.get(f"/v1/orders/{order_id}", headers=user.headers)).status_code in (
            404,
            422,
        )
    assert (await client.get("/v1/balance", headers=user.headers)).status_code == 200
    assert (await client.get("/no/such/route/42")).status_code == 404
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    template = {"route": "/v1/orders/{order_id}", "method": "GET"}
    assert delta("smsgate_http_requests_total", **template, status="404") == 2
    assert delta("smsgate_http_requests_total", **template, status="422") == 1
    assert delta("smsgate_http_requests_total", route="/v1/balance", method="GET",
                 status="200") == 1  # fmt: skip
    assert delta("smsgate_http_requests_total", route="unmatched", method="GET",
                 status="404") == 1  # fmt: skip
    assert delta("smsgate_http_request_duration_seconds_count", **template) == 3
    assert delta("smsgate_http_request_duration_seconds_sum", **template) > 0
    # The raw path never becomes a label value.
    assert not [key for key in after if any("/v1/orders/1" == v for _, v in key[1])]
    assert not [key for key in after if any("/no/such" in v for _, v in key[1])]


async def test_orders_provider_calls_and_database_gauges(
    client, factory: Factory, clock, poller, sessionmaker
):
    await factory.sandbox_catalog()
    from tests.orders_api.support import load_catalog

    catalog = await load_catalog(sessionmaker)
    user = await factory.account(balance=START)
    # A webhook URL, so the account's events queue for delivery (the backlog gauge).
    from app.webhooks.models import WebhookConfig

    async with sessionmaker() as session, session.begin():
        session.add(WebhookConfig(account_id=user.id, url="https://hooks.example.com/x",
                                  secret="ab" * 32))  # fmt: skip
    before = await scrape(client)
    assert value(before, "smsgate_metrics_database_up") == 1
    assert total(before, "smsgate_orders") == 0
    assert value(before, "smsgate_accounts") == 1
    assert value(before, "smsgate_ledger_amount_idr", kind="topup") == START
    assert value(before, "smsgate_outbox_backlog") == 0

    order = await create_one(client, user, {"product_id": catalog.economy.id})
    after = await scrape(client)
    buys = {"provider": "sandbox", "operation": "buy"}
    assert (
        value(after, "smsgate_provider_calls_total", **buys, outcome="ok")
        - value(before, "smsgate_provider_calls_total", **buys, outcome="ok")
    ) == 1
    assert (
        value(after, "smsgate_provider_call_duration_seconds_count", **buys)
        - value(before, "smsgate_provider_call_duration_seconds_count", **buys)
    ) == 1
    assert value(after, "smsgate_orders", status="ACTIVE", provider="sandbox") == 1
    assert value(after, "smsgate_ledger_amount_idr", kind="order_debit") == -order["amount"]
    assert value(after, "smsgate_ledger_entries", kind="order_debit") == 1
    assert value(after, "smsgate_account_balances_idr") == START - order["amount"]
    assert value(after, "smsgate_poller_lag_seconds") == 0  # first poll is not due yet

    clock.advance(30)  # overdue by 29 s (polled every second), and the SMS has come
    lagging = await scrape(client)
    assert 28 <= value(lagging, "smsgate_poller_lag_seconds") <= 30

    rounds = value(lagging, "smsgate_poller_rounds_total")
    await poller.tick()
    polled = await scrape(client)
    assert value(polled, "smsgate_poller_lag_seconds") == 0
    assert value(polled, "smsgate_poller_rounds_total") == rounds + 1
    assert value(polled, "smsgate_orders", status="OTP_RECEIVED", provider="sandbox") == 1
    assert value(polled, "smsgate_orders", status="ACTIVE", provider="sandbox") == 0
    assert value(polled, "smsgate_outbox_backlog") == 1  # order.otp_received, not sent yet
    assert (
        value(polled, "smsgate_provider_calls_total", provider="sandbox", operation="status",
              outcome="ok")
        - value(lagging, "smsgate_provider_calls_total", provider="sandbox", operation="status",
                outcome="ok")
    ) == 1  # fmt: skip


async def test_helpers_for_breakers_and_webhooks(client):
    before = await scrape(client)
    metrics.set_breaker_state("sandbox", "open")
    metrics.webhook_delivery("delivered")
    metrics.webhook_delivery("delivered")
    metrics.webhook_delivery("failed")
    after = await scrape(client)
    assert value(after, "smsgate_provider_breaker_state", provider="sandbox") == 2
    for outcome, n in (("delivered", 2), ("failed", 1)):
        assert (
            value(after, "smsgate_webhook_deliveries_total", outcome=outcome)
            - value(before, "smsgate_webhook_deliveries_total", outcome=outcome)
        ) == n
    metrics.set_breaker_state("sandbox", metrics.BreakerState.HALF_OPEN)
    assert value(await scrape(client), "smsgate_provider_breaker_state", provider="sandbox") == 1
    metrics.set_breaker_state("sandbox", "closed")
    assert value(await scrape(client), "smsgate_provider_breaker_state", provider="sandbox") == 0


async def test_provider_call_outcomes(client):
    def count(outcome: str) -> float:
        return value(metrics_now(), "smsgate_provider_calls_total", provider="fake",
                     operation="cancel", outcome=outcome)  # fmt: skip

    def metrics_now() -> dict:
        return parse_metrics(metrics.render().decode())[1]

    for exc, outcome in ((Unavailable("down"), "unavailable"), (Rejected("no"), "rejected"),
                         (RuntimeError("bug"), "error")):  # fmt: skip
        before = count(outcome)
        with pytest.raises(type(exc)), provider_call("fake", "cancel", 7):
            raise exc
        assert count(outcome) == before + 1
    before = count("ok")
    with provider_call("fake", "cancel", 7):
        pass
    assert count("ok") == before + 1


async def test_metrics_token_when_configured(app, client):
    settings = app.state.runtime.settings
    app.state.runtime.settings = settings.model_copy(
        update={"metrics_token": SecretStr("scrape-me-1")}
    )
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-me-1"}):
            response = await client.get("/metrics", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "UNAUTHORIZED"
        response = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me-1"})
        assert response.status_code == 200 and "smsgate_http_requests_total" in response.text
        # An empty token is no token (the admin API reads it the same way): open.
        app.state.runtime.settings = settings.model_copy(update={"metrics_token": SecretStr("")})
        assert (await client.get("/metrics")).status_code == 200
    finally:
        app.state.runtime.settings = settings


async def test_database_gauges_absent_but_process_metrics_served_when_db_fails(
    app, client, monkeypatch
):
    async def broken():
        raise OSError("connection refused")

    monkeypatch.setattr(app.state.runtime.metrics_db, "get", broken)
    response = await client.get("/metrics")
    assert response.status_code == 200
    families, samples = parse_metrics(response.text)
    assert value(samples, "smsgate_metrics_database_up") == 0
    assert "smsgate_http_requests" in families and "smsgate_orders" not in families
