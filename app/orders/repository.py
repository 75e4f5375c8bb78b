"""Order statements. Every state change is a conditional UPDATE … WHERE status = expected
RETURNING: zero rows means another actor (poller, cancel, finish, a retry) got there first."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, text, update

from app.catalog.models import CatalogProduct, Product, Provider
from app.db import Db
from app.orders.models import (
    LIVE_STATUSES,
    PUBLIC_STATUSES,
    IdempotencyKey,
    Order,
    OrderEvent,
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

_ACTIVATE = (
    update(ORDERS)
    .where(ORDERS.c.id == bindparam("p_id"), ORDERS.c.status == OrderStatus.PENDING.value)
    .values(
        status=OrderStatus.ACTIVE.value,
        upstream_order_id=bindparam("p_upstream_order_id"),
        phone_number=bindparam("p_phone_number"),
        expires_at=bindparam("p_expires_at"),
        cancel_available_at=bindparam("p_cancel_available_at"),
        reactivatable=bindparam("p_reactivatable"),
        next_poll_at=bindparam("p_next_poll_at"),
        locked_until=None,
        updated_at=bindparam("p_now"),
    )
    .returning(*_ORDER_COLS)
)

_GET_OWN = select(*_ORDER_COLS).where(
    ORDERS.c.id == bindparam("p_id"),
    ORDERS.c.account_id == bindparam("p_account_id"),
    ORDERS.c.status.in_([s.value for s in PUBLIC_STATUSES]),
)
_GET_ANY = select(*_ORDER_COLS).where(ORDERS.c.id == bindparam("p_id"))

_LIST_LIVE = (
    select(*_ORDER_COLS)
    .where(
        ORDERS.c.account_id == bindparam("p_account_id"),
        ORDERS.c.status.in_([s.value for s in LIVE_STATUSES]),
    )
    .order_by(ORDERS.c.id.desc())
)

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


# One round trip for the money half of a purchase: take the price from the balance (only
# if it covers it), create the PENDING order, and write the ledger row that says so. The
# invariants are ledger.service.post's: the guard is in the UPDATE, balance_after is the
# balance the UPDATE produced, and the unique (order_id, kind) index allows one debit.
_DEBIT_AND_INSERT = text(
    """
    WITH account AS (
        UPDATE accounts SET balance = balance - :amount, updated_at = :now
        WHERE id = :account_id AND balance >= :amount
        RETURNING id, balance
    ), new_order AS (
        INSERT INTO orders (account_id, product_id, catalog_product_id, provider_id,
                            operator_id, parent_order_id, status, amount, cost, phone_number,
                            reactivatable, created_at, updated_at, next_poll_at)
        SELECT account.id, :product_id, :catalog_product_id, :provider_id, :operator_id,
               :parent_order_id, 'PENDING', :amount, :cost, :phone_number, false,
               :now, :now, :reconcile_at
        FROM account
        RETURNING id
    ), entry AS (
        INSERT INTO ledger_entries (account_id, kind, amount, balance_after, order_id,
                                    created_at)
        SELECT account.id, 'order_debit', -:amount, account.balance, new_order.id, :now
        FROM account, new_order
    )
    SELECT new_order.id AS order_id, account.balance AS balance FROM account, new_order
    """
)


async def debit_and_insert_pending(session: Db, **values: Any) -> tuple[int, int] | None:
    """(order id, new balance), or None when the balance does not cover the amount."""
    row = (await session.execute(_DEBIT_AND_INSERT, values)).first()
    return None if row is None else (int(row.order_id), int(row.balance))


async def activate(
    session: Db,
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
    params = {
        "p_id": order_id,
        "p_upstream_order_id": upstream_order_id,
        "p_phone_number": phone_number,
        "p_expires_at": expires_at,
        "p_cancel_available_at": cancel_available_at,
        "p_reactivatable": reactivatable,
        "p_next_poll_at": next_poll_at,
        "p_now": now,
    }
    return (await session.execute(_ACTIVATE, params)).first()


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


async def get(session: Db, order_id: int, account_id: int | None = None) -> Any | None:
    """One order; with `account_id`, only that account's and only in public statuses."""
    if account_id is None:
        return (await session.execute(_GET_ANY, {"p_id": order_id})).first()
    params = {"p_id": order_id, "p_account_id": account_id}
    return (await session.execute(_GET_OWN, params)).first()


async def list_for_account(
    session: Db, account_id: int, status: str | None, limit: int, offset: int
) -> Sequence[Any]:
    statuses = [status] if status else [s.value for s in PUBLIC_STATUSES]
    params = {"p_account_id": account_id, "p_statuses": statuses, "p_limit": limit,
              "p_offset": offset}  # fmt: skip
    return (await session.execute(_LIST, params)).all()


async def list_live(session: Db, account_id: int) -> Sequence[Any]:
    return (await session.execute(_LIST_LIVE, {"p_account_id": account_id})).all()


async def insert_sms(session: Db, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(OrderSms), rows)


async def insert_events(session: Db, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(OrderEvent), rows)


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


async def oldest_due(session: Db) -> datetime | None:
    return await session.scalar(
        select(func.min(Order.next_poll_at)).where(Order.status.in_(LIVE_STATUSES))
    )


# --- idempotency ------------------------------------------------------------------------------


async def purge_idempotency(session: Db, before: datetime) -> int:
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


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
