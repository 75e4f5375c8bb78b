"""/v1/orders: Idempotency-Key on create and reactivate."""

import asyncio

import pytest

from app.ledger import service as ledger_service
from tests.orders_api.support import (
    START,
    assert_audit_ok,
    balance,
    create,
    create_one,
    error_of,
    money_rows,
    post,
    to_otp,
)


class TestIdempotency:
    async def test_same_key_same_body_replays_bytes_and_charges_once(
        self, client, user, catalog, clock, sessionmaker
    ):
        body = {"catalog_product_id": catalog.cp, "quantity": 2}
        first = await create(client, user, body, key="order-1")
        clock.advance(30)  # a replay does not recompute the capability block either
        second = await create(client, user, body, key="order-1")
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        assert len(first.json()["data"]["orders"]) == 2
        assert await balance(client, user) == START - 2 * 3400
        assert await money_rows(sessionmaker, user.id) == {"orders": 2, "debits": 2, "refunds": 0}
        await assert_audit_ok(sessionmaker)

    async def test_same_key_different_body_is_rejected(
        self, client, user, catalog, clock, sessionmaker
    ):
        first = await create(client, user, {"catalog_product_id": catalog.cp}, key="k")
        assert first.status_code == 200
        second = await create(
            client, user, {"catalog_product_id": catalog.cp, "quantity": 2}, key="k"
        )
        assert second.status_code == 422
        assert error_of(second)["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert await balance(client, user) == START - 3400
        assert await money_rows(sessionmaker, user.id) == {"orders": 1, "debits": 1, "refunds": 0}
        await assert_audit_ok(sessionmaker)

    @pytest.mark.parametrize("key", ["has space", "x" * 129, "x" * 300, "a/b", "a.b", ""])
    async def test_bad_key_format(self, client, user, catalog, sessionmaker, key):
        response = await create(client, user, {"catalog_product_id": catalog.cp}, key=key)
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"]["fields"][0]["field"] == "Idempotency-Key"
        assert await money_rows(sessionmaker, user.id) == {"orders": 0, "debits": 0, "refunds": 0}

    async def test_longest_allowed_key(self, client, user, catalog, clock):
        key = "A-_z9" + "x" * 123
        assert len(key) == 128
        response = await create(client, user, {"catalog_product_id": catalog.cp}, key=key)
        assert response.status_code == 200

    async def test_header_name_is_case_insensitive(
        self, client, user, catalog, clock, sessionmaker
    ):
        body = {"catalog_product_id": catalog.cp}
        first = await create(client, user, body, key="case", key_header="idempotency-key")
        second = await create(client, user, body, key="case", key_header="IDEMPOTENCY-KEY")
        assert first.status_code == 200 and first.content == second.content
        assert await money_rows(sessionmaker, user.id) == {"orders": 1, "debits": 1, "refunds": 0}

    async def test_keys_are_per_account(self, client, user, factory, catalog, clock, sessionmaker):
        other = await factory.account(balance=START)
        body = {"catalog_product_id": catalog.cp}
        mine = await create(client, user, body, key="shared")
        theirs = await create(client, other, body, key="shared")
        assert mine.status_code == theirs.status_code == 200
        mine_id = mine.json()["data"]["orders"][0]["id"]
        theirs_id = theirs.json()["data"]["orders"][0]["id"]
        assert mine_id != theirs_id
        assert await balance(client, user) == await balance(client, other) == START - 3400
        assert (
            await client.get(f"/v1/orders/{theirs_id}", headers=user.headers)
        ).status_code == 404
        await assert_audit_ok(sessionmaker)

    async def test_same_body_in_another_spelling_is_the_same_request(
        self, client, user, catalog, clock, sessionmaker
    ):
        headers = {**user.headers, "Content-Type": "application/json", "Idempotency-Key": "k2"}
        first = await client.post(
            "/v1/orders/create",
            content=f'{{"quantity": 1, "catalog_product_id": {catalog.cp}}}'.encode(),
            headers=headers,
        )
        second = await client.post(
            "/v1/orders/create",
            content=f'{{ "catalog_product_id" : {catalog.cp} }}'.encode(),
            headers=headers,
        )
        assert first.status_code == 200 and second.content == first.content
        assert await money_rows(sessionmaker, user.id) == {"orders": 1, "debits": 1, "refunds": 0}

    async def test_concurrent_retry_is_request_in_progress(
        self, client, user, catalog, clock, sandbox, monkeypatch, sessionmaker
    ):
        # The first request to claim the key is held inside its upstream call until the other
        # has been answered: with a mere delay, a slow machine could let the first finish
        # before the second arrives, and the second would be a replay (200), not a 409.
        release = asyncio.Event()
        original = sandbox.buy

        async def held_buy(upstream_key: str, reference: str):  # type: ignore[no-untyped-def]
            await release.wait()
            return await original(upstream_key, reference)

        monkeypatch.setattr(sandbox, "buy", held_buy)
        body = {"catalog_product_id": catalog.cp}
        tasks = [asyncio.create_task(create(client, user, body, key="busy")) for _ in range(2)]
        # Whichever lost the claim answers while the winner is held; a bug that let both
        # through would leave both held: the timeout ends the wait and the asserts fail.
        await asyncio.wait(tasks, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        release.set()
        responses = await asyncio.gather(*tasks)
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409]
        busy = next(r for r in responses if r.status_code == 409)
        assert error_of(busy)["code"] == "REQUEST_IN_PROGRESS"
        done = next(r for r in responses if r.status_code == 200)
        later = await create(client, user, body, key="busy")
        assert later.status_code == 200 and later.content == done.content
        assert await balance(client, user) == START - 3400
        await assert_audit_ok(sessionmaker)

    async def test_no_key_no_deduplication(self, client, user, catalog, clock, sessionmaker):
        body = {"catalog_product_id": catalog.cp}
        await create_one(client, user, body)
        await create_one(client, user, body)
        assert await money_rows(sessionmaker, user.id) == {"orders": 2, "debits": 2, "refunds": 0}

    async def test_a_failure_is_replayed_even_after_a_top_up(
        self, client, factory, catalog, clock, sessionmaker
    ):
        poor = await factory.account(balance=100)
        body = {"catalog_product_id": catalog.cp}
        first = await create(client, poor, body, key="retry-me")
        assert first.status_code == 409
        assert error_of(first)["code"] == "INSUFFICIENT_BALANCE"
        async with sessionmaker() as session, session.begin():
            await ledger_service.credit(session, poor.id, START, "test")
        again = await create(client, poor, body, key="retry-me")
        assert again.status_code == 409 and again.content == first.content
        assert await balance(client, poor) == START + 100
        fresh = await create(client, poor, body, key="retry-me-2")
        assert fresh.status_code == 200
        assert await balance(client, poor) == START + 100 - 3400
        await assert_audit_ok(sessionmaker)

    async def test_create_and_reactivate_do_not_collide(
        self, client, user, catalog, clock, poller, sessionmaker
    ):
        body = {"catalog_product_id": catalog.cp}
        created = await create(client, user, body, key="same")
        parent = created.json()["data"]["orders"][0]
        await to_otp(client, user, clock, poller, parent["id"])
        assert (await post(client, user, "finish", {"id": parent["id"]})).status_code == 200

        react = await post(client, user, "reactivate", {"id": parent["id"]}, key="same")
        assert react.status_code == 200, react.text
        [child] = react.json()["data"]["orders"]
        assert child["id"] != parent["id"]
        assert child["phone_number"] == parent["phone_number"]

        replay_react = await post(client, user, "reactivate", {"id": parent["id"]}, key="same")
        assert replay_react.status_code == 200 and replay_react.content == react.content
        replay_create = await create(client, user, body, key="same")
        assert replay_create.content == created.content
        assert await balance(client, user) == START - 2 * 3400
        assert await money_rows(sessionmaker, user.id) == {"orders": 2, "debits": 2, "refunds": 0}

        other_body = await post(
            client, user, "reactivate", {"id": parent["id"], "max_price": 99_999}, key="same"
        )
        assert other_body.status_code == 422
        assert error_of(other_body)["code"] == "IDEMPOTENCY_KEY_REUSED"
        bad_key = await post(client, user, "reactivate", {"id": parent["id"]}, key="has space")
        assert bad_key.status_code == 422
        assert error_of(bad_key)["details"]["fields"][0]["field"] == "Idempotency-Key"
        await assert_audit_ok(sessionmaker)
