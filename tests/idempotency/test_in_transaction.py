"""run_in_transaction against the real Postgres: claim, work and answer commit together;
a rolled-back request leaves its key free; concurrent ones wait on the claim and replay."""

import asyncio

import pytest
from sqlalchemy import func, select

from app.errors import IdempotencyKeyReused, InsufficientBalance
from app.idempotency import service as idempotency
from app.idempotency.models import IdempotencyKey
from app.idempotency.service import Answer, Ask
from tests.idempotency.conftest import Counted, ask_for


async def _run(sessionmaker, ask: Ask | None, work) -> Answer:
    async with sessionmaker() as session, session.begin():
        return await idempotency.run_in_transaction(session, ask, work)


async def _keys(sessionmaker) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0)


class TestInTransaction:
    async def test_replays_the_stored_answer(self, sessionmaker, factory):
        user = await factory.account()
        work = Counted(Answer(200, b'{"entry": 1}'))
        first = await _run(sessionmaker, ask_for(user.id), work)
        second = await _run(sessionmaker, ask_for(user.id), work)
        assert first == second == Answer(200, b'{"entry": 1}')
        assert work.runs == 1

    async def test_another_body_under_the_key_is_refused(self, sessionmaker, factory):
        user = await factory.account()
        work = Counted()
        await _run(sessionmaker, ask_for(user.id, amount=1), work)
        with pytest.raises(IdempotencyKeyReused):
            await _run(sessionmaker, ask_for(user.id, amount=2), work)
        assert work.runs == 1

    async def test_no_key_no_deduplication(self, sessionmaker):
        work = Counted()
        await _run(sessionmaker, None, work)
        await _run(sessionmaker, None, work)
        assert work.runs == 2

    async def test_a_failed_request_leaves_the_key_free(self, sessionmaker, factory):
        user = await factory.account()

        async def refused() -> Answer:
            raise InsufficientBalance()

        with pytest.raises(InsufficientBalance):
            await _run(sessionmaker, ask_for(user.id, amount=-9), refused)
        assert await _keys(sessionmaker) == 0
        # Nothing happened, so even a corrected body may use the key.
        fixed = Counted()
        await _run(sessionmaker, ask_for(user.id, amount=-8), fixed)
        assert fixed.runs == 1 and await _keys(sessionmaker) == 1

    async def test_a_rolled_back_transaction_takes_the_claim_with_it(self, sessionmaker, factory):
        user = await factory.account()
        work = Counted()
        async with sessionmaker() as session:
            await idempotency.run_in_transaction(session, ask_for(user.id), work)
            await session.rollback()  # e.g. the commit point failed after the work
        assert await _keys(sessionmaker) == 0
        await _run(sessionmaker, ask_for(user.id), work)
        assert work.runs == 2

    async def test_concurrent_requests_wait_on_the_claim_and_replay(self, sessionmaker, factory):
        user = await factory.account()
        runs = 0

        async def work() -> Answer:
            nonlocal runs
            runs += 1
            await asyncio.sleep(0.2)  # the others are blocked on the claim meanwhile
            return Answer(200, b"posted once")

        answers = await asyncio.gather(
            *(_run(sessionmaker, ask_for(user.id), work) for _ in range(8))
        )
        assert runs == 1
        assert answers == [Answer(200, b"posted once")] * 8

    async def test_a_concurrent_request_runs_after_the_first_rolls_back(
        self, sessionmaker, factory
    ):
        user = await factory.account()
        claimed = asyncio.Event()
        runs: list[str] = []

        async def failing() -> Answer:
            runs.append("first")
            claimed.set()
            await asyncio.sleep(0.2)
            raise InsufficientBalance()

        async def second() -> Answer:
            runs.append("second")
            return Answer(200, b"second")

        first = asyncio.create_task(_run(sessionmaker, ask_for(user.id), failing))
        await claimed.wait()
        answer = await _run(sessionmaker, ask_for(user.id), second)
        with pytest.raises(InsufficientBalance):
            await first
        assert runs == ["first", "second"] and answer == Answer(200, b"second")
