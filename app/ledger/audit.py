"""The money invariants, checked over the whole database (`smsgate audit`)."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from app.db.engine import Db

# Each check returns the offending rows; an empty result means the invariant holds.
CHECKS: dict[str, str] = {
    "balance_differs_from_ledger": """
        SELECT a.id AS account_id, a.balance, COALESCE(SUM(l.amount), 0) AS ledger_sum
        FROM accounts a LEFT JOIN ledger_entries l ON l.account_id = a.id
        GROUP BY a.id, a.balance
        HAVING a.balance <> COALESCE(SUM(l.amount), 0)
    """,
    "order_not_debited_once": """
        SELECT o.id AS order_id, o.amount, COUNT(l.id) AS debits, SUM(l.amount) AS debited
        FROM orders o
        LEFT JOIN ledger_entries l ON l.order_id = o.id AND l.kind = 'order_debit'
        GROUP BY o.id, o.amount
        HAVING COUNT(l.id) <> 1 OR SUM(l.amount) <> -o.amount
    """,
    "refund_does_not_match_status": """
        SELECT o.id AS order_id, o.status, o.amount, COUNT(l.id) AS refunds,
               SUM(l.amount) AS refunded
        FROM orders o
        LEFT JOIN ledger_entries l ON l.order_id = o.id AND l.kind = 'order_refund'
        GROUP BY o.id, o.status, o.amount
        HAVING (o.status IN ('FAILED', 'CANCELED', 'EXPIRED')
                AND (COUNT(l.id) <> 1 OR SUM(l.amount) <> o.amount))
            OR (o.status NOT IN ('FAILED', 'CANCELED', 'EXPIRED') AND COUNT(l.id) <> 0)
    """,
    "entry_account_differs_from_order": """
        SELECT l.id AS entry_id, l.order_id, l.account_id, o.account_id AS order_account_id
        FROM ledger_entries l JOIN orders o ON o.id = l.order_id
        WHERE l.account_id <> o.account_id
    """,
    "negative_balance": "SELECT id AS account_id, balance FROM accounts WHERE balance < 0",
}


@dataclass
class AuditReport:
    accounts: int = 0
    orders: int = 0
    problems: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())


async def run(session: Db) -> AuditReport:
    report = AuditReport()
    report.accounts = int(await session.scalar(text("SELECT COUNT(*) FROM accounts")) or 0)
    report.orders = int(await session.scalar(text("SELECT COUNT(*) FROM orders")) or 0)
    for name, sql in CHECKS.items():
        rows = (await session.execute(text(sql))).mappings().all()
        if rows:
            report.problems[name] = [{k: _plain(v) for k, v in row.items()} for row in rows[:1000]]
    return report


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, Decimal) else value  # SUM(bigint) is numeric
