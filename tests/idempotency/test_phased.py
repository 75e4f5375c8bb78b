"""run_phased against the real Postgres: the claim commits alone, the work runs with no
transaction held, the final answer (or a 500) is stored and replayed."""

import asyncio

import pytest
from sqlalchemy import func, select

from app.errors import IdempotencyKeyReused, RequestInProgress
from app.idempotency import service as idempotency
from app.idempotency.models import IdempotencyKey
from app.idempotency.service import INTERNAL_ERROR, Answer
from app.kit import clock
from tests.idempotency.conftest import Counted, ask_for


async def _row(sessionmaker, account_id: int, key: str) -> IdempotencyKey | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.account_id == account_id, IdempotencyKey.key == key
            )
        )


class TestPhased:
    async def test_replays_the_exact_bytes_and_status_without_running_again(
        self, autocommit, factory
    ):
        user = await factory.account()
        work = Counted(Answer(409, b'{"success":false,"error":{"code":"X"}}'))
        first = await idempotency.run_phased(autocommit, ask_for(user.id), work)
        second = await idempotency.run_phased(autocommit, ask_for(user.id), work)
        assert first == second == Answer(409, b'{"success":false,"error":{"code":"X"}}')
        assert work.runs == 1

    async def test_another_body_under_the_key_is_refused(self, autocommit, factory):
        user = await factory.account()
        work = Counted()
        await idempotency.run_phased(autocommit, ask_for(user.id, q=1), work)
        with pytest.raises(IdempotencyKeyReused):
            await idempotency.run_phased(autocommit, ask_for(user.id, q=2), work)
        assert work.runs == 1

    async def test_scope_and_account_are_part_of_the_key(self, autocommit, factory):
        user, other = await factory.account(), await factory.account()
        work = Counted()
        for ask in (ask_for(user.id), ask_for(user.id, scope="t:renew"), ask_for(other.id)):
            await idempotency.run_phased(autocommit, ask, work)
        assert work.runs == 3

    async def test_no_key_no_deduplication(self, autocommit):
        work = Counted()
        await idempotency.run_phased(autocommit, None, work)
        await idempotency.run_phased(autocommit, None, work)
        assert work.runs == 2

    async def test_in_progress_while_running_and_no_transaction_held(
        self, autocommit, factory, sessionmaker
    ):
        user = await factory.account()
        started, release = asyncio.Event(), asyncio.Event()
        seen_from_outside: list[object] = []

        async def slow() -> Answer:
            started.set()
            # The claim is committed before the work: another connection sees it, empty.
            row = await _row(sessionmaker, user.id, "k-1")
            seen_from_outside.append(row and row.response_status)
            await release.wait()
            return Answer(200, b"done")

        first = asyncio.create_task(idempotency.run_phased(autocommit, ask_for(user.id), slow))
        await started.wait()
        with pytest.raises(RequestInProgress):
            await idempotency.run_phased(autocommit, ask_for(user.id), Counted())
        with pytest.raises(IdempotencyKeyReused):  # the body is checked before the progress
            await idempotency.run_phased(autocommit, ask_for(user.id, q=9), Counted())
        release.set()
        assert await first == Answer(200, b"done")
        assert seen_from_outside == [None]
        later = Counted()
        assert await idempotency.run_phased(autocommit, ask_for(user.id), later) == Answer(
            200, b"done"
        )
        assert later.runs == 0

    async def test_an_unexpected_failure_is_stored_as_a_500(self, autocommit, factory):
        user = await factory.account()

        async def crash() -> Answer:
            raise RuntimeError("half done")

        with pytest.raises(RuntimeError):
            await idempotency.run_phased(autocommit, ask_for(user.id), crash)
        retry = Counted()
        replay = await idempotency.run_phased(autocommit, ask_for(user.id), retry)
        assert replay == INTERNAL_ERROR and replay.status == 500
        assert b'"INTERNAL_ERROR"' in replay.body
        assert retry.runs == 0  # part of the work may be done: never run it twice

    async def test_concurrent_requests_with_one_key_do_the_work_once(self, autocommit, factory):
        user = await factory.account()
        release = asyncio.Event()
        runs = 0

        async def work() -> Answer:
            nonlocal runs
            runs += 1
            await release.wait()  # held until every other request has been answered
            return Answer(200, b"once")

        answered: list[object] = []
        others_answered = asyncio.Event()

        async def attempt() -> Answer | str:
            try:
                outcome: Answer | str = await idempotency.run_phased(
                    autocommit, ask_for(user.id), work
                )
            except RequestInProgress:
                outcome = "in progress"
            answered.append(outcome)
            if len(answered) == 19:
                others_answered.set()
            return outcome

        tasks = [asyncio.create_task(attempt()) for _ in range(20)]
        async with asyncio.timeout(10):
            await others_answered.wait()
        release.set()
        outcomes = [await t for t in tasks]
        assert runs == 1
        assert outcomes.count(Answer(200, b"once")) == 1
        assert outcomes.count("in progress") == 19


class TestPurge:
    async def test_forgets_keys_older_than_the_cutoff_only(self, autocommit, factory, sessionmaker):
        user = await factory.account()
        await idempotency.run_phased(autocommit, ask_for(user.id, key="old"), Counted())
        async with sessionmaker() as session, session.begin():
            assert await idempotency.purge(session, clock.utcnow().replace(year=2000)) == 0
            assert await idempotency.purge(session, clock.utcnow().replace(year=2999)) == 1
        async with sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
        again = Counted()
        await idempotency.run_phased(autocommit, ask_for(user.id, key="old"), again)
        assert again.runs == 1
