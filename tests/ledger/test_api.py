"""The ledger API every kind and ops money use: debit, refund, settle, credit, adjust."""

import pytest
from sqlalchemy.exc import IntegrityError

from app.errors import InsufficientBalance, ValidationFailed
from app.ledger import service as ledger_service
from app.ledger import subjects
from app.ledger.subjects import Subject
from tests.ledger.test_ledger import balance_and_sum, entries, new_account, new_orders

ORDER = subjects.ORDER


class TestSubjectMoney:
    async def test_debit_then_refund_of_an_order(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=1_000)
        [order_id] = await new_orders(sessionmaker, account_id, 1)
        async with sessionmaker() as session, session.begin():
            debited = await ledger_service.debit(session, ORDER, order_id, account_id, 300)
            refunded = await ledger_service.refund(session, ORDER, order_id, account_id, 300)
        assert (debited.amount, debited.balance) == (-300, 700)
        assert (refunded.amount, refunded.balance) == (300, 1_000)
        rows = await entries(sessionmaker, account_id)
        assert [(r.kind, r.amount, r.order_id) for r in rows[1:]] == [
            ("order_debit", -300, order_id),
            ("order_refund", 300, order_id),
        ]
        assert await balance_and_sum(sessionmaker, account_id) == (1_000, 1_000)

    async def test_second_refund_fails_on_the_unique_index(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=1_000)
        [order_id] = await new_orders(sessionmaker, account_id, 1)
        async with sessionmaker() as session, session.begin():
            await ledger_service.debit(session, ORDER, order_id, account_id, 100)
            await ledger_service.refund(session, ORDER, order_id, account_id, 100)
        with pytest.raises(IntegrityError, match="uq_ledger_entries_order_id_kind"):
            async with sessionmaker() as session, session.begin():
                await ledger_service.refund(session, ORDER, order_id, account_id, 100)
        assert await balance_and_sum(sessionmaker, account_id) == (1_000, 1_000)

    async def test_debit_beyond_balance(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=99)
        [order_id] = await new_orders(sessionmaker, account_id, 1)
        async with sessionmaker() as session, session.begin():
            with pytest.raises(InsufficientBalance):
                await ledger_service.debit(session, ORDER, order_id, account_id, 100)
        assert await balance_and_sum(sessionmaker, account_id) == (99, 99)

    @pytest.mark.parametrize("amount", [0, -5])
    async def test_debit_and_refund_take_positive_amounts(self, sessionmaker, amount):
        account_id = await new_account(sessionmaker, balance=100)
        [order_id] = await new_orders(sessionmaker, account_id, 1)
        async with sessionmaker() as session, session.begin():
            for move in (ledger_service.debit, ledger_service.refund):
                with pytest.raises(ValidationFailed):
                    await move(session, ORDER, order_id, account_id, amount)
        assert await balance_and_sum(sessionmaker, account_id) == (100, 100)

    async def test_settle_needs_a_kind_that_settles(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=100)
        [order_id] = await new_orders(sessionmaker, account_id, 1)
        async with sessionmaker() as session, session.begin():
            with pytest.raises(ValueError, match="no settle"):
                await ledger_service.settle(session, ORDER, order_id, account_id, -5)


class TestOpsMoney:
    async def test_credit_and_adjust(self, sessionmaker):
        account_id = await new_account(sessionmaker)
        async with sessionmaker() as session, session.begin():
            await ledger_service.credit(session, account_id, 500, "invoice-1")
            await ledger_service.adjust(session, account_id, -200, "goodwill reversed")
            await ledger_service.adjust(session, account_id, 50, "goodwill")
            with pytest.raises(InsufficientBalance):
                await ledger_service.adjust(session, account_id, -351, "too much")
        rows = await entries(sessionmaker, account_id)
        assert [(r.kind, r.amount, r.balance_after, r.order_id) for r in rows] == [
            ("topup", 500, 500, None),
            ("adjustment", -200, 300, None),
            ("adjustment", 50, 350, None),
        ]

    @pytest.mark.parametrize("amount", [0, -1])
    async def test_credit_is_positive(self, sessionmaker, amount):
        account_id = await new_account(sessionmaker)
        async with sessionmaker() as session, session.begin():
            with pytest.raises(ValidationFailed, match="top-up"):
                await ledger_service.credit(session, account_id, amount, None)


class TestHotPathStatement:
    def test_is_built_from_the_subject(self):
        widget = Subject("widget", "widgets", "widget_id", "widget_debit", "widget_refund")
        sql = ledger_service.debit_and_insert_sql(
            widget, "INSERT INTO widgets (account_id) SELECT account.id FROM account RETURNING id"
        )
        assert "balance >= $1" in sql  # the guard
        assert "'widget_debit'" in sql and "widget_id" in sql
        assert "order" not in sql

    def test_refuses_an_insert_that_does_not_chain(self):
        widget = Subject("widget", "widgets", "widget_id", "widget_debit", "widget_refund")
        with pytest.raises(ValueError):
            ledger_service.debit_and_insert_sql(widget, "INSERT INTO widgets DEFAULT VALUES")

    def test_subject_names_are_plain(self):
        with pytest.raises(ValueError):
            Subject("x", "x; DROP TABLE accounts", "x_id", "x_debit", "x_refund")


class TestPostSubjects:
    async def test_subject_id_names_what_the_entry_pays_for(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=100)
        [order_id] = await new_orders(sessionmaker, account_id, 1)
        async with sessionmaker() as session, session.begin():
            await ledger_service.post(
                session, account_id, subjects.EntryKind.ORDER_DEBIT, -100, subject_id=order_id
            )
            with pytest.raises(ValueError, match="about no subject"):
                await ledger_service.post(
                    session, account_id, subjects.EntryKind.TOPUP, 1, subject_id=order_id
                )
        rows = await entries(sessionmaker, account_id)
        assert [(r.kind, r.order_id) for r in rows] == [("topup", None), ("order_debit", order_id)]
