"""Orders, revenue, provider cost and margin per account, provider, service or day.

Read from the ledger, on a cash basis: an order counts in the range its debit was posted
in, and a refund in the range it was posted in. So revenue over any range equals, to the
rupiah, minus the sum of that range's order_debit and order_refund ledger rows.

- orders: debits posted (orders charged); refunded: refunds posted;
- revenue: debits minus refunds (IDR);
- cost: the provider's cost of each debited order, minus it again for each refunded one
  (a canceled, expired or failed order is not paid for upstream);
- margin: revenue minus cost.
Day buckets are UTC days of the ledger row.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import Date, case, cast, func, select

from app.accounts.models import Account
from app.catalog.models import CatalogProduct, Provider, Service
from app.db.engine import Db
from app.errors import field_error
from app.ledger.models import EntryKind, LedgerEntry
from app.orders.models import Order

GROUPS = ("account", "provider", "service", "day")
MAX_DAYS = 366


def _check(group_by: str, since: datetime, until: datetime) -> None:
    if group_by not in GROUPS:
        raise field_error("group_by", f"one of {', '.join(GROUPS)}")
    if since >= until:
        raise field_error("to", "must be after from")
    if (until - since).days > MAX_DAYS:
        raise field_error("to", f"a report covers at most {MAX_DAYS} days")


async def report(
    session: Db, group_by: str, since: datetime, until: datetime, account_id: int | None = None
) -> dict[str, Any]:
    """Rows per group in [since, until), and their totals."""
    _check(group_by, since, until)
    debit = LedgerEntry.kind == EntryKind.ORDER_DEBIT.value
    refund = LedgerEntry.kind == EntryKind.ORDER_REFUND.value
    measures = (
        func.count().filter(debit).label("orders"),
        func.count().filter(refund).label("refunded"),
        (-func.sum(LedgerEntry.amount)).label("revenue"),
        func.sum(case((debit, Order.cost), else_=-Order.cost)).label("cost"),
    )
    keys: tuple[Any, ...]
    if group_by == "account":
        keys = (LedgerEntry.account_id, Account.name.label("account_name"))
    elif group_by == "provider":
        keys = (Provider.code.label("provider"),)
    elif group_by == "service":
        keys = (Service.code.label("service"),)
    else:
        day = cast(func.timezone("UTC", LedgerEntry.created_at), Date)
        keys = (day.label("day"),)
    stmt = (
        select(*keys, *measures)
        .select_from(LedgerEntry)
        .join(Order, Order.id == LedgerEntry.order_id)
        .where(
            LedgerEntry.kind.in_((EntryKind.ORDER_DEBIT.value, EntryKind.ORDER_REFUND.value)),
            LedgerEntry.created_at >= since,
            LedgerEntry.created_at < until,
        )
        .group_by(*keys)
        .order_by(*keys)
    )
    if group_by == "account":
        stmt = stmt.join(Account, Account.id == LedgerEntry.account_id)
    elif group_by == "provider":
        stmt = stmt.join(Provider, Provider.id == Order.provider_id)
    elif group_by == "service":
        stmt = stmt.join(CatalogProduct, CatalogProduct.id == Order.catalog_product_id).join(
            Service, Service.id == CatalogProduct.service_id
        )
    if account_id is not None:
        stmt = stmt.where(LedgerEntry.account_id == account_id)
    rows = []
    totals = {"orders": 0, "refunded": 0, "revenue": 0, "cost": 0, "margin": 0}
    for row in await session.execute(stmt):
        item = dict(row._mapping)
        for name in ("orders", "refunded", "revenue", "cost"):
            item[name] = int(item[name] or 0)
        item["margin"] = item["revenue"] - item["cost"]
        if "day" in item:
            item["day"] = item["day"].isoformat()
        for name in totals:
            totals[name] += item[name]
        rows.append(item)
    return {"group_by": group_by, "from": since, "to": until, "rows": rows, "totals": totals}
