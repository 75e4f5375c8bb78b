"""Adding a kind of product the documented way (subjects.add_subject_ddl) gives it the same
guards as orders: a real FK, one subject column per row, one debit and one refund, events
that name it, the hot-path statement and the generic audit. Run on the test database inside
one transaction that is rolled back (Postgres DDL is transactional)."""

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.kit import clock, pg
from app.ledger import audit, subjects
from app.ledger import service as ledger_service
from app.ledger.subjects import ORDER, Subject

WIDGET = Subject(
    kind="widget",
    table="widgets",
    column="widget_id",
    debit="widget_debit",
    refund="widget_refund",
    settle="widget_settle",
    refunded_statuses=("FAILED",),
)
INSERT_WIDGET = """
        INSERT INTO widgets (account_id, amount, status) SELECT account.id, $1, 'OPEN'
        FROM account RETURNING id"""
DEBIT_AND_INSERT = ledger_service.debit_and_insert_sql(WIDGET, INSERT_WIDGET)


async def refused(session: Any, sql: str, params: dict[str, Any], constraint: str) -> None:
    savepoint = await session.begin_nested()
    with pytest.raises(DBAPIError, match=constraint):
        await session.execute(text(sql), params)
    await savepoint.rollback()


async def problems(session: Any) -> dict[str, int]:
    found = {}
    for name, sql in audit.subject_checks(WIDGET).items():
        rows = (await session.execute(text(sql))).all()
        if rows:
            found[name] = len(rows)
    return found


async def test_a_new_kind_gets_the_guards_of_orders(sessionmaker):
    async with sessionmaker() as session:
        await session.begin()
        try:
            await _scenario(session)
        finally:
            await session.rollback()


async def _scenario(session: Any) -> None:
    await session.execute(text(
        "CREATE TABLE widgets (id BIGSERIAL PRIMARY KEY, account_id BIGINT NOT NULL"
        " REFERENCES accounts (id), amount BIGINT NOT NULL, status TEXT NOT NULL)"))  # fmt: skip
    for sql in subjects.add_subject_ddl(WIDGET, every=(ORDER, WIDGET)):
        await session.execute(text(sql))
    account_id = await ledger_service.open_account(session, "widgets", 1_000)

    # The hot path: debit and insert in one statement, guarded.
    conn = await session.connection()
    row = await pg.fetchrow(conn, DEBIT_AND_INSERT, 300, clock.utcnow(), account_id)
    assert row is not None and row.balance == 700
    widget_id = int(row.subject_id)
    assert await pg.fetchrow(conn, DEBIT_AND_INSERT, 701, clock.utcnow(), account_id) is None
    entry = (await session.execute(text(
        "SELECT kind, amount, balance_after, order_id FROM ledger_entries WHERE widget_id = :w"),
        {"w": widget_id})).one()  # fmt: skip
    assert tuple(entry) == ("widget_debit", -300, 700, None)
    assert await problems(session) == {}

    entry_sql = ("INSERT INTO ledger_entries (account_id, kind, amount, balance_after, order_id,"
                 " widget_id) VALUES (:a, :k, :m, 0, :o, :w)")  # fmt: skip
    ids = {"a": account_id, "o": None, "w": widget_id}
    for changes, constraint in [
        ({"k": "widget_debit", "m": -1}, "uq_ledger_entries_widget_id_kind"),
        ({"k": "widget_refund", "m": -1}, "amount_sign_matches_kind"),
        ({"k": "topup", "m": 1}, "widget_id_matches_kind"),
        ({"k": "widget_settle", "m": 1, "w": None}, "widget_id_matches_kind"),
        ({"k": "widget_settle", "m": 1, "w": 999}, "fk_ledger_entries_widget_id_widgets"),
        # An order's kind cannot name a widget either (each CHECK holds on its own).
        ({"k": "order_debit", "m": -1}, "order_id_matches_kind"),
    ]:
        await refused(session, entry_sql, {**ids, **changes}, constraint)

    event_sql = ("INSERT INTO events (account_id, subject_kind, order_id, widget_id, type,"
                 " payload) VALUES (:a, :s, NULL, :w, 'widget.done', '{}')")  # fmt: skip
    await session.execute(text(event_sql), {"a": account_id, "s": "widget", "w": widget_id})
    for kind, constraint in [("widget", "widget_id_matches_subject_kind"),
                             ("gadget", "subject_kind_known")]:  # fmt: skip
        await refused(session, event_sql, {"a": account_id, "s": kind, "w": None}, constraint)

    # The generic audit: a failed widget must have been refunded in full.
    await session.execute(text("UPDATE widgets SET status = 'FAILED'"))
    assert await problems(session) == {"widget_refund_does_not_match_status": 1}
    await session.execute(text(entry_sql), {**ids, "k": "widget_refund", "m": 300})
    assert await problems(session) == {}
    await session.execute(text(entry_sql), {**ids, "k": "widget_settle", "m": 5})
    assert await problems(session) == {"widget_refunded_more_than_debited": 1}

    # Going back refuses while rows of the kind exist, then leaves no trace.
    drop = subjects.drop_subject_ddl(WIDGET, rest=(ORDER,))
    savepoint = await session.begin_nested()
    with pytest.raises(DBAPIError, match="subject_kind_known"):
        for sql in drop:
            await session.execute(text(sql))
    await savepoint.rollback()
    await session.execute(text("DELETE FROM events WHERE subject_kind = 'widget'"))
    await session.execute(text("DELETE FROM ledger_entries WHERE widget_id IS NOT NULL"))
    for sql in drop:
        await session.execute(text(sql))
    columns = set((await session.execute(text(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name IN ('ledger_entries', 'events')"))).scalars())  # fmt: skip
    assert "widget_id" not in columns and "order_id" in columns
