"""Top-ups and adjustments through /admin (idempotent), and an account's ledger."""

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from app.ledger import audit
from app.ledger.models import LedgerEntry
from tests.factories import Factory


async def _ledger_rows(sessionmaker, account_id: int) -> int:
    async with sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(LedgerEntry)
                .where(LedgerEntry.account_id == account_id)
            )
            or 0
        )


async def test_topup_is_idempotent(
    client: httpx.AsyncClient, factory: Factory, admin: dict[str, str], sessionmaker
) -> None:
    user = await factory.account()
    url = f"/admin/accounts/{user.id}/topups"
    headers = {**admin, "Idempotency-Key": "pay-2026-0001"}
    body = {"amount": 50_000, "reference": "bank transfer 0001"}
    first = await client.post(url, json=body, headers=headers)
    assert first.status_code == 200, first.text
    data = first.json()["data"]
    assert data["amount"] == 50_000 and data["balance"] == 50_000 and data["kind"] == "topup"
    assert data["reference"] == "bank transfer 0001"

    second = await client.post(url, json=body, headers=headers)
    assert second.status_code == 200 and second.content == first.content
    assert await _ledger_rows(sessionmaker, user.id) == 1

    reused = await client.post(url, json={**body, "amount": 60_000}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    as_adjustment = await client.post(
        f"/admin/accounts/{user.id}/adjustments", json=body, headers=headers
    )
    assert as_adjustment.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"

    without_key = await client.post(url, json=body, headers=admin)
    assert without_key.json()["data"]["balance"] == 100_000
    assert await _ledger_rows(sessionmaker, user.id) == 2
    balance = await client.get("/v1/balance", headers=user.headers)
    assert balance.json()["data"]["balance"] == 100_000


async def test_concurrent_retries_with_one_key_post_once(
    client: httpx.AsyncClient, factory: Factory, admin: dict[str, str], sessionmaker
) -> None:
    user = await factory.account()
    headers = {**admin, "Idempotency-Key": "burst"}
    body = {"amount": 7_000, "reference": "retry storm"}
    answers = await asyncio.gather(
        *(
            client.post(f"/admin/accounts/{user.id}/topups", json=body, headers=headers)
            for _ in range(10)
        )
    )
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert await _ledger_rows(sessionmaker, user.id) == 1


async def test_adjustments_both_ways_never_below_zero(
    client: httpx.AsyncClient, factory: Factory, admin: dict[str, str], sessionmaker
) -> None:
    user = await factory.account(balance=10_000)
    url = f"/admin/accounts/{user.id}/adjustments"
    down = await client.post(url, json={"amount": -4_000, "reference": "chargeback"}, headers=admin)
    assert down.json()["data"]["balance"] == 6_000
    headers = {**admin, "Idempotency-Key": "too-much"}
    body = {"amount": -6_001, "reference": "oops"}
    refused = await client.post(url, json=body, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert await _ledger_rows(sessionmaker, user.id) == 2  # opening balance + chargeback
    # Nothing happened, so the key is not spent: the corrected request may use it.
    fixed = await client.post(url, json={**body, "amount": -6_000}, headers=headers)
    assert fixed.json()["data"]["balance"] == 0
    async with sessionmaker() as session:
        assert (await audit.run(session)).ok


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("topups", {"amount": 100}, "reference"),
        ("topups", {"amount": 100, "reference": "   "}, "reference"),
        ("topups", {"amount": 0, "reference": "x"}, "amount"),
        ("topups", {"amount": -5, "reference": "x"}, "amount"),
        ("topups", {"amount": 1.5, "reference": "x"}, "amount"),
        ("adjustments", {"amount": 0, "reference": "x"}, "amount"),
        ("adjustments", {"amount": 10**16, "reference": "x"}, "amount"),
        ("topups", {"amount": 100, "reference": "x", "note": 1}, "note"),
    ],
)
async def test_money_input_is_validated(
    client: httpx.AsyncClient,
    factory: Factory,
    admin: dict[str, str],
    sessionmaker,
    path: str,
    body: dict[str, object],
    field: str,
) -> None:
    user = await factory.account()
    response = await client.post(f"/admin/accounts/{user.id}/{path}", json=body, headers=admin)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in [f["field"] for f in error["details"]["fields"]]
    assert await _ledger_rows(sessionmaker, user.id) == 0


async def test_bad_key_and_unknown_account(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"amount": 100, "reference": "x"}
    bad = await client.post(
        "/admin/accounts/1/topups", json=body, headers={**admin, "Idempotency-Key": "a b"}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["fields"][0]["field"] == "Idempotency-Key"
    missing = await client.post("/admin/accounts/4242/topups", json=body, headers=admin)
    assert missing.status_code == 404


async def test_ledger_running_balance_filters_and_pages(
    client: httpx.AsyncClient, factory: Factory, admin: dict[str, str]
) -> None:
    user = await factory.account(balance=1_000)
    base = f"/admin/accounts/{user.id}"
    for n in range(1, 8):
        await client.post(
            f"{base}/topups", json={"amount": n * 100, "reference": f"t{n}"}, headers=admin
        )
    await client.post(
        f"{base}/adjustments", json={"amount": -500, "reference": "fix"}, headers=admin
    )
    everything = (await client.get(f"{base}/ledger?limit=100", headers=admin)).json()
    rows = everything["data"]
    assert len(rows) == 9 and everything["meta"]["next_cursor"] is None
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    # Running balance: each row's balance_after is the next older one's plus its amount.
    for newer, older in zip(rows, rows[1:], strict=False):
        assert newer["balance_after"] == older["balance_after"] + newer["amount"]
    assert rows[0]["balance_after"] == 1_000 + 2_800 - 500

    seen: list[int] = []
    url = f"{base}/ledger?limit=4&kind=topup"
    while url:
        page = (await client.get(url, headers=admin)).json()
        seen += [r["id"] for r in page["data"]]
        assert all(r["kind"] == "topup" for r in page["data"])
        cursor = page["meta"]["next_cursor"]
        url = f"{base}/ledger?limit=4&kind=topup&cursor={cursor}" if cursor else ""
    assert seen == [r["id"] for r in rows if r["kind"] == "topup"]

    adjustments = (await client.get(f"{base}/ledger?kind=adjustment", headers=admin)).json()
    assert [r["reference"] for r in adjustments["data"]] == ["fix"]
    future = (await client.get(f"{base}/ledger?from=2999-01-01T00:00:00Z", headers=admin)).json()
    assert future["data"] == []
    past = (await client.get(f"{base}/ledger?to=2000-01-01T00:00:00", headers=admin)).json()
    assert past["data"] == []
    bad_kind = await client.get(f"{base}/ledger?kind=gift", headers=admin)
    assert bad_kind.status_code == 422
    bad_cursor = await client.get(f"{base}/ledger?cursor=nonsense", headers=admin)
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["error"]["details"]["fields"][0]["field"] == "cursor"


async def test_a_write_commits_before_its_answer_is_sent(
    app, client: httpx.AsyncClient, factory: Factory, admin: dict[str, str], monkeypatch
) -> None:
    """A 200 must never reach the caller for a transaction that has not committed yet: the
    request's session commits when the handler returns, not after the response."""
    from sqlalchemy.ext.asyncio import AsyncSession

    seen: list[str] = []
    commit = AsyncSession.commit

    async def recording_commit(self: AsyncSession) -> None:
        await commit(self)
        seen.append("commit")

    monkeypatch.setattr(AsyncSession, "commit", recording_commit)
    inner = app.middleware_stack

    async def watching(scope, receive, send):  # type: ignore[no-untyped-def]
        async def send_watched(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                seen.append("response")
            await send(message)

        await inner(scope, receive, send_watched)

    monkeypatch.setattr(app, "middleware_stack", watching)
    user = await factory.account()
    response = await client.post(f"/admin/accounts/{user.id}/topups",
                                 json={"amount": 10, "reference": "r"}, headers=admin)  # fmt: skip
    assert response.status_code == 200
    assert seen[:2] == ["commit", "response"]
