"""The money invariants, checked over the whole database (`smsgate audit`).

The account checks hold for everyone; the subject checks are generated for every kind of
product in the subject registry (app.ledger.subjects), so a new kind is audited the day it
is registered.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from app.db.engine import Db
from app.ledger.subjects import SUBJECTS, Subject

# Each check returns the offending rows; an empty result means the invariant holds.
ACCOUNT_CHECKS: dict[str, str] = {
    "balance_differs_from_ledger": """
        SELECT a.id AS account_id, a.balance, COALESCE(SUM(l.amount), 0) AS ledger_sum
        FROM accounts a LEFT JOIN ledger_entries l ON l.account_id = a.id
        GROUP BY a.id, a.balance
        HAVING a.balance <> COALESCE(SUM(l.amount), 0)
    """,
    "negative_balance": "SELECT id AS account_id, balance FROM accounts WHERE balance < 0",
}


def subject_checks(s: Subject) -> dict[str, str]:
    """The checks of one kind: debited exactly once and for its price, never refunded more
    than it paid, refunded exactly when its status says so, money on the subject's own
    account. The names and SQL come from trusted registry values, never from input."""
    k, t, c = s.kind, s.table, s.column
    checks = {
        f"{k}_not_debited_once": f"""
            SELECT x.id AS {c}, x.amount, COUNT(l.id) AS debits, SUM(l.amount) AS debited
            FROM {t} x
            LEFT JOIN ledger_entries l ON l.{c} = x.id AND l.kind = '{s.debit}'
            GROUP BY x.id, x.amount
            HAVING COUNT(l.id) <> 1 OR SUM(l.amount) <> -x.amount
        """,
        f"{k}_refunded_more_than_debited": f"""
            SELECT l.{c}, COUNT(*) FILTER (WHERE l.kind = '{s.refund}') AS refunds,
                   SUM(l.amount) AS net
            FROM ledger_entries l WHERE l.{c} IS NOT NULL
            GROUP BY l.{c}
            HAVING SUM(l.amount) > 0 OR COUNT(*) FILTER (WHERE l.kind = '{s.refund}') > 1
        """,
        f"entry_account_differs_from_{k}": f"""
            SELECT l.id AS entry_id, l.{c}, l.account_id, x.account_id AS {k}_account_id
            FROM ledger_entries l JOIN {t} x ON x.id = l.{c}
            WHERE l.account_id <> x.account_id
        """,
    }  # noqa: S608 (registry names only)
    if s.refunded_statuses:
        refunded = ", ".join(f"'{status}'" for status in s.refunded_statuses)
        checks[f"{k}_refund_does_not_match_status"] = f"""
            SELECT x.id AS {c}, x.status, x.amount, COUNT(l.id) AS refunds,
                   SUM(l.amount) AS refunded
            FROM {t} x
            LEFT JOIN ledger_entries l ON l.{c} = x.id AND l.kind = '{s.refund}'
            GROUP BY x.id, x.status, x.amount
            HAVING (x.status IN ({refunded})
                    AND (COUNT(l.id) <> 1 OR SUM(l.amount) <> x.amount))
                OR (x.status NOT IN ({refunded}) AND COUNT(l.id) <> 0)
        """  # noqa: S608
    return checks


CHECKS: dict[str, str] = dict(ACCOUNT_CHECKS)
for _subject in SUBJECTS:
    CHECKS.update(subject_checks(_subject))


@dataclass
class AuditReport:
    accounts: int = 0
    orders: int = 0
    subjects: dict[str, int] = field(default_factory=dict)  # rows per kind
    problems: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())


async def run(session: Db) -> AuditReport:
    report = AuditReport()
    report.accounts = int(await session.scalar(text("SELECT COUNT(*) FROM accounts")) or 0)
    for s in SUBJECTS:
        count = await session.scalar(text(f"SELECT COUNT(*) FROM {s.table}"))  # noqa: S608
        report.subjects[s.kind] = int(count or 0)
    report.orders = report.subjects.get("order", 0)
    for name, sql in CHECKS.items():
        rows = (await session.execute(text(sql))).mappings().all()
        if rows:
            report.problems[name] = [{k: _plain(v) for k, v in row.items()} for row in rows[:1000]]
    return report


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, Decimal) else value  # SUM(bigint) is numeric
