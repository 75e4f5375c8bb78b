"""GET /v1/balance: the caller's own balance in IDR, as the ledger has it."""

import pytest

from app.ledger import service as ledger_service
from tests.factories import AccountWithToken, Factory


@pytest.fixture
async def user(factory: Factory) -> AccountWithToken:
    return await factory.account(balance=12_345)


async def topup(sessionmaker, account_id: int, amount: int) -> int:
    async with sessionmaker() as session, session.begin():
        return (await ledger_service.credit(session, account_id, amount, "test")).balance


class TestGetBalance:
    async def test_shape_is_exact(self, client, user):
        response = await client.get("/v1/balance", headers=user.headers)
        assert response.status_code == 200
        assert response.json() == {"success": True, "data": {"currency": "IDR", "balance": 12_345}}

    async def test_zero_balance(self, client, factory):
        empty = await factory.account(balance=0)
        response = await client.get("/v1/balance", headers=empty.headers)
        assert response.json()["data"] == {"currency": "IDR", "balance": 0}

    async def test_reflects_topups(self, client, user, sessionmaker):
        assert await topup(sessionmaker, user.id, 655) == 13_000
        response = await client.get("/v1/balance", headers=user.headers)
        assert response.json()["data"]["balance"] == 13_000
        await topup(sessionmaker, user.id, 1_000_000)
        response = await client.get("/v1/balance", headers=user.headers)
        assert response.json()["data"]["balance"] == 1_013_000

    async def test_large_balance_stays_an_exact_integer(self, client, user, sessionmaker):
        await topup(sessionmaker, user.id, 10**15 - 12_345)
        body = (await client.get("/v1/balance", headers=user.headers)).json()
        assert body["data"]["balance"] == 10**15
        assert isinstance(body["data"]["balance"], int)

    async def test_each_account_sees_only_its_own(self, client, factory, sessionmaker):
        alice = await factory.account(balance=1_000)
        bob = await factory.account(balance=2_000)
        await topup(sessionmaker, bob.id, 500)
        alice_body = (await client.get("/v1/balance", headers=alice.headers)).json()
        bob_body = (await client.get("/v1/balance", headers=bob.headers)).json()
        assert alice_body["data"]["balance"] == 1_000
        assert bob_body["data"]["balance"] == 2_500

    async def test_query_parameters_cannot_pick_another_account(self, client, factory):
        alice = await factory.account(balance=1_000)
        bob = await factory.account(balance=2_000)
        response = await client.get(
            "/v1/balance", params={"account_id": bob.id}, headers=alice.headers
        )
        assert response.json()["data"]["balance"] == 1_000

    async def test_requires_a_token(self, client, user):
        response = await client.get("/v1/balance")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
