"""Order statements. Every state change is a conditional UPDATE … WHERE status = expected
RETURNING: zero rows means another actor (poller, cancel, finish, a retry) got there first."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.catalog.models import CatalogProduct, Product, Provider
from app.db.engine import Db
from app.kit import pg
from app.ledger import service as ledger_service
from app.ledger import subjects
from app.orders.models import (
    PUBLIC_STATUSES,
    Order,
    OrderSms,
    OrderStatus,
)

ORDER_COLUMNS = (
    Order.id,
    Order.account_id,
    Order.status,
    Order.created_at,
    Order.product_id,
    Order.catalog_product_id,
    Order.provider_id,
    Order.operator_id,
    Order.parent_order_id,
    Order.phone_number,
    Order.upstream_order_id,
    Order.amount,
    Order.cost,
    Order.otp_code,
    Order.otp_message,
    Order.sms_revision,
    Order.otp_received_at,
    Order.expires_at,
    Order.canceled_at,
    Order.failed_reason,
    Order.cancel_available_at,
    Order.resend_available_at,
    Order.reactivatable,
    Order.reconcile,
    Order.poll_errors,
)

ORDERS: Table = Order.__table__  # type: ignore[assignment]
# Hot-path statements are built once (bind parameters for the values); building a
# statement per call costs more CPU than the database spends running it.
_ORDER_COLS = [ORDERS.c[col.key] for col in ORDER_COLUMNS]

_GET_ANY = select(*_ORDER_COLS).where(ORDERS.c.id == bindparam("p_id"))

_LIST = (
    select(*_ORDER_COLS)
    .where(
        ORDERS.c.account_id == bindparam("p_account_id"),
        ORDERS.c.status.in_(bindparam("p_statuses", expanding=True)),
    )
    .order_by(ORDERS.c.id.desc())
    .limit(bindparam("p_limit"))
    .offset(bindparam("p_offset"))
)

_PRODUCTS = Product.__table__
_PROVIDERS = Provider.__table__
_OFFERS = (
    select(
        _PRODUCTS.c.id.label("product_id"),
        _PRODUCTS.c.catalog_product_id,
        _PRODUCTS.c.provider_id,
        _PRODUCTS.c.operator_id,
        _PRODUCTS.c.upstream_key,
        _PRODUCTS.c.price,
        _PRODUCTS.c.cost,
        _PRODUCTS.c.upstream_cost,
        _PRODUCTS.c.upstream_currency,
        _PRODUCTS.c.available,
        _PROVIDERS.c.code.label("provider_code"),
    )
    .join(_PROVIDERS, _PROVIDERS.c.id == _PRODUCTS.c.provider_id)
    .where(
        _PRODUCTS.c.active.is_(True),
        _PRODUCTS.c.available > 0,
        _PROVIDERS.c.enabled.is_(True),
        _PROVIDERS.c.code.in_(bindparam("p_providers", expanding=True)),
    )
)
_OFFERS_OF_PRODUCT = _OFFERS.where(_PRODUCTS.c.id == bindparam("p_product_id"))
_OFFERS_OF_UMBRELLA = _OFFERS.where(
    _PRODUCTS.c.catalog_product_id == bindparam("p_catalog_product_id")
)


# One round trip for the money half of a purchase: the ledger wraps the pending order's
# INSERT in its guarded debit (ledger.service.debit_and_insert_sql: take the price only if
# the balance covers it, then the order_debit row). $1 price, $2 now, $3 account.
_INSERT_PENDING = """
        INSERT INTO orders (account_id, product_id, catalog_product_id, provider_id,
                            operator_id, parent_order_id, status, amount, cost, phone_number,
                            reactivatable, created_at, updated_at, next_poll_at,
                            upstream_cost, upstream_currency)
        SELECT account.id, $4, $5, $6, $7, $8, 'PENDING', $1, $9, $10, false, $2, $2, $11,
               $12, $13
        FROM account
        RETURNING id"""
_DEBIT_AND_INSERT = ledger_service.debit_and_insert_sql(subjects.ORDER, _INSERT_PENDING)


async def debit_and_insert_pending(
    conn: AsyncConnection,
    *,
    account_id: int,
    product_id: int,
    catalog_product_id: int,
    provider_id: int,
    operator_id: int | None,
    parent_order_id: int | None,
    amount: int,
    cost: int,
    phone_number: str | None,
    now: datetime,
    reconcile_at: datetime,
    upstream_cost: Decimal | None = None,
    upstream_currency: str | None = None,
) -> tuple[int, int] | None:
    """(order id, new balance), or None when the balance does not cover the amount."""
    row = await pg.fetchrow(
        conn, _DEBIT_AND_INSERT, amount, now, account_id, product_id, catalog_product_id,
        provider_id, operator_id, parent_order_id, cost, phone_number, reconcile_at,
        upstream_cost, upstream_currency,
    )  # fmt: skip
    return None if row is None else (int(row.subject_id), int(row.balance))


_COLUMN_LIST = ", ".join(col.key for col in ORDER_COLUMNS)
_ACTIVATE_SQL = f"""
    UPDATE orders SET status = 'ACTIVE', upstream_order_id = $2, phone_number = $3,
        expires_at = $4, cancel_available_at = $5, reactivatable = $6, next_poll_at = $7,
        locked_until = NULL, updated_at = $8
    WHERE id = $1 AND status = 'PENDING'
    RETURNING {_COLUMN_LIST}
"""  # noqa: S608 (a fixed column list, no input)
_GET_OWN_SQL = f"""
    SELECT {_COLUMN_LIST} FROM orders
    WHERE id = $1 AND account_id = $2
      AND status IN ('ACTIVE', 'OTP_RECEIVED', 'COMPLETED', 'CANCELED', 'EXPIRED')
"""  # noqa: S608
_LIST_LIVE_SQL = f"""
    SELECT {_COLUMN_LIST} FROM orders
    WHERE account_id = $1 AND status IN ('ACTIVE', 'OTP_RECEIVED')
    ORDER BY id DESC
"""  # noqa: S608


async def activate(
    conn: AsyncConnection,
    order_id: int,
    *,
    upstream_order_id: str,
    phone_number: str,
    now: datetime,
    expires_at: datetime,
    cancel_available_at: datetime,
    reactivatable: bool,
    next_poll_at: datetime,
) -> Any | None:
    return await pg.fetchrow(
        conn, _ACTIVATE_SQL, order_id, upstream_order_id, phone_number, expires_at,
        cancel_available_at, reactivatable, next_poll_at, now,
    )  # fmt: skip


async def fail_pending(session: Db, order_id: int, reason: str, now: datetime) -> Any | None:
    """PENDING → FAILED; returns (account_id, amount) for the refund, None if not pending."""
    stmt = (
        update(Order)
        .where(Order.id == order_id, Order.status == OrderStatus.PENDING)
        .values(
            status=OrderStatus.FAILED,
            failed_reason=reason[:500],
            finished_at=now,
            next_poll_at=None,
            locked_until=None,
            updated_at=now,
        )
        .returning(Order.account_id, Order.amount)
    )
    return (await session.execute(stmt)).first()


async def mark_for_reconcile(session: Db, order_id: int, reconcile: str, now: datetime) -> None:
    await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status == OrderStatus.PENDING)
        .values(reconcile=reconcile, next_poll_at=now, locked_until=None, updated_at=now)
    )


async def transition(
    session: Db,
    order_id: int,
    expected: Sequence[str],
    values: dict[str, Any],
    *,
    account_id: int | None = None,
    extra_where: Sequence[Any] = (),
) -> Any | None:
    """Move an order out of one of `expected` statuses; None when someone else moved it."""
    conditions = [Order.id == order_id, Order.status.in_(expected), *extra_where]
    if account_id is not None:
        conditions.append(Order.account_id == account_id)
    stmt = update(Order).where(*conditions).values(**values).returning(*ORDER_COLUMNS)
    return (await session.execute(stmt)).first()


async def get(session: Db, order_id: int) -> Any | None:
    """One order, whoever's and in whatever status (internal use)."""
    return (await session.execute(_GET_ANY, {"p_id": order_id})).first()


async def get_own(conn: AsyncConnection, order_id: int, account_id: int) -> Any | None:
    """One order of an account, in a public status (an AUTOCOMMIT connection, via the driver)."""
    return await pg.fetchrow(conn, _GET_OWN_SQL, order_id, account_id)


async def list_for_account(
    session: Db, account_id: int, status: str | None, limit: int, offset: int
) -> Sequence[Any]:
    statuses = [status] if status else [s.value for s in PUBLIC_STATUSES]
    params = {"p_account_id": account_id, "p_statuses": statuses, "p_limit": limit,
              "p_offset": offset}  # fmt: skip
    return (await session.execute(_LIST, params)).all()


async def list_live(conn: AsyncConnection, account_id: int) -> Sequence[Any]:
    return await pg.fetch(conn, _LIST_LIVE_SQL, account_id)


async def insert_sms(session: Db, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(OrderSms), rows)


# --- routing ------------------------------------------------------------------------------


async def offers(
    session: Db,
    providers: Sequence[str],
    *,
    product_id: int | None = None,
    catalog_product_id: int | None = None,
) -> Sequence[Any]:
    """Visible tiers (active, in stock, provider enabled here) for one product or umbrella."""
    if product_id is not None:
        params = {"p_providers": list(providers), "p_product_id": product_id}
        return (await session.execute(_OFFERS_OF_PRODUCT, params)).all()
    params = {"p_providers": list(providers), "p_catalog_product_id": catalog_product_id}
    return (await session.execute(_OFFERS_OF_UMBRELLA, params)).all()


async def product_exists(session: Db, product_id: int) -> bool:
    return await session.scalar(select(Product.id).where(Product.id == product_id)) is not None


async def catalog_product_exists(session: Db, catalog_product_id: int) -> bool:
    found = await session.scalar(
        select(CatalogProduct.id).where(CatalogProduct.id == catalog_product_id)
    )
    return found is not None


async def success_counts(
    session: Db, product_ids: Sequence[int], since: datetime
) -> dict[int, tuple[int, int]]:
    """Per tier: (orders that got an SMS, orders that ended) since `since`."""
    got_sms = func.count().filter(Order.sms_revision > 0)
    ended = func.count().filter(
        Order.status.in_(
            (OrderStatus.COMPLETED, OrderStatus.EXPIRED, OrderStatus.CANCELED, OrderStatus.FAILED)
        )
        | (Order.sms_revision > 0)
    )
    rows = await session.execute(
        select(Order.product_id, got_sms, ended)
        .where(Order.product_id.in_(product_ids), Order.created_at >= since)
        .group_by(Order.product_id)
    )
    return {pid: (int(s), int(n)) for pid, s, n in rows}


# --- poller ---------------------------------------------------------------------------------


async def claim_due(
    session: Db, now: datetime, lease: timedelta, limit: int, statuses: Sequence[str]
) -> Sequence[Any]:
    """Take a lease on due orders; other workers skip them (SKIP LOCKED, then the lease)."""
    due = (
        select(Order.id)
        .where(
            Order.status.in_(statuses),
            Order.next_poll_at <= now,
            or_(Order.locked_until.is_(None), Order.locked_until < now),
        )
        .order_by(Order.next_poll_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(Order)
        .where(Order.id.in_(due.scalar_subquery()))
        .values(locked_until=now + lease)
        .returning(*ORDER_COLUMNS)
    )
    return (await session.execute(stmt)).all()


async def claim_releases(session: Db, now: datetime, lease: timedelta, limit: int) -> Sequence[Any]:
    due = (
        select(Order.id)
        .where(Order.release_attempt_at <= now)
        .order_by(Order.release_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(Order)
        .where(Order.id.in_(due.scalar_subquery()))
        .values(release_attempt_at=now + lease)
        .returning(
            Order.id,
            Order.provider_id,
            Order.upstream_order_id,
            Order.release_action,
            Order.poll_errors,
        )  # fmt: skip
    )
    return (await session.execute(stmt)).all()


async def schedule_release(
    session: Db, order_id: int, upstream_order_id: str, action: str, now: datetime
) -> None:
    """Remember that the number of a FAILED order must still be given back upstream."""
    await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status == OrderStatus.FAILED)
        .values(
            upstream_order_id=func.coalesce(Order.upstream_order_id, upstream_order_id),
            release_action=action,
            release_attempt_at=now,
            updated_at=now,
        )
    )


async def release_done(session: Db, order_id: int) -> None:
    await session.execute(
        update(Order)
        .where(Order.id == order_id)
        .values(release_action=None, release_attempt_at=None)
    )
