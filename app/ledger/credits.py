"""Operator money moves: top-ups and adjustments (the admin API runs them under an
Idempotency-Key, in the request's transaction: see app.api.admin.money).

The money rules stay in ledger.service.post: an adjustment may be negative but never
takes the balance below zero (409 INSUFFICIENT_BALANCE, nothing written).
"""

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Account
from app.errors import NotFound, field_error
from app.ledger import service as ledger_service
from app.ledger.models import EntryKind, LedgerEntry

KINDS = {"topup": EntryKind.TOPUP, "adjustment": EntryKind.ADJUSTMENT}
MAX_REFERENCE = 500


def check_reference(reference: str) -> str:
    reference = reference.strip()
    if not reference or len(reference) > MAX_REFERENCE:
        raise field_error("reference", f"required, 1-{MAX_REFERENCE} characters")
    return reference


@dataclass(frozen=True, slots=True)
class Credit:
    """A checked request: its fields are also what identifies it under a key (a top-up and
    an adjustment of the same amount are different requests)."""

    kind: Literal["topup", "adjustment"]
    amount: int
    reference: str

    @classmethod
    def of(cls, kind: Literal["topup", "adjustment"], amount: int, reference: str) -> "Credit":
        return cls(kind, amount, check_reference(reference))

    def fields(self) -> dict[str, Any]:
        return {"kind": self.kind, "amount": self.amount, "reference": self.reference}


async def check_account(session: AsyncSession, account_id: int) -> None:
    if await session.scalar(select(Account.id).where(Account.id == account_id)) is None:
        raise NotFound(f"No account {account_id}.")


async def credit(session: AsyncSession, account_id: int, request: Credit) -> dict[str, Any]:
    """Post a top-up or an adjustment; the posted entry as the admin API shows it."""
    entry_kind = KINDS[request.kind]
    post = ledger_service.credit if entry_kind is EntryKind.TOPUP else ledger_service.adjust
    posted = await post(session, account_id, request.amount, request.reference)
    created_at = await session.scalar(
        select(LedgerEntry.created_at).where(LedgerEntry.id == posted.entry_id)
    )
    return {
        "entry_id": posted.entry_id,
        "account_id": account_id,
        "kind": entry_kind.value,
        "amount": posted.amount,
        "balance": posted.balance,
        "reference": request.reference,
        "created_at": created_at,
    }
