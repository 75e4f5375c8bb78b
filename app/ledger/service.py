"""Money in and out of accounts. The balance and its ledger row change in one statement
pair inside the caller's transaction; CHECK (balance >= 0) is the last line of defence."""

from dataclasses import dataclass

from sqlalchemy import insert, select, update

from app.accounts import service as accounts_service
from app.accounts.models import Account
from app.db.engine import Db
from app.errors import InsufficientBalance, NotFound, ValidationFailed
from app.kit.clock import utcnow
from app.ledger.models import EntryKind, LedgerEntry

MAX_AMOUNT = 10**15  # IDR; far beyond any real balance, well inside BIGINT


@dataclass(frozen=True, slots=True)
class Posted:
    account_id: int
    entry_id: int
    amount: int
    balance: int


async def open_account(session: Db, name: str, balance: int = 0) -> int:
    """Create an account with an opening balance, posted as a top-up (the ledger is the only
    way a balance changes, even the first time)."""
    if balance < 0 or balance > MAX_AMOUNT:
        raise ValidationFailed(f"Opening balance must be between 0 and {MAX_AMOUNT}.")
    account_id = await accounts_service.create_account(session, name)
    if balance:
        await post(session, account_id, EntryKind.TOPUP, balance, reference="opening balance")
    return account_id


async def post(
    session: Db,
    account_id: int,
    kind: EntryKind,
    amount: int,
    *,
    order_id: int | None = None,
    reference: str | None = None,
) -> Posted:
    """Apply `amount` (signed) to the balance and append its ledger row, atomically.

    A debit that would take the balance below zero changes nothing and raises
    InsufficientBalance: the guard is in the UPDATE's WHERE, so concurrent debits
    serialize on the account row and can never overdraw.
    """
    if amount == 0 or abs(amount) > MAX_AMOUNT:
        raise ValidationFailed(f"Amount must be non-zero and at most {MAX_AMOUNT} in size.")
    stmt = (
        update(Account)
        .where(Account.id == account_id)
        .values(balance=Account.balance + amount, updated_at=utcnow())
        .returning(Account.balance)
    )
    if amount < 0:
        stmt = stmt.where(Account.balance + amount >= 0)
    new_balance = await session.scalar(stmt)
    if new_balance is None:
        exists = await session.scalar(select(Account.id).where(Account.id == account_id))
        if exists is None:
            raise NotFound(f"No account {account_id}.")
        raise InsufficientBalance()
    entry_id = await session.scalar(
        insert(LedgerEntry)
        .values(
            account_id=account_id,
            kind=kind.value,
            amount=amount,
            balance_after=new_balance,
            order_id=order_id,
            reference=reference,
        )
        .returning(LedgerEntry.id)
    )
    assert entry_id is not None
    return Posted(account_id, entry_id, amount, new_balance)


async def topup(session: Db, account_id: int, amount: int, reference: str | None) -> Posted:
    if amount <= 0:
        raise ValidationFailed("A top-up amount must be a positive number of IDR.")
    return await post(session, account_id, EntryKind.TOPUP, amount, reference=reference)


async def get_balance(session: Db, account_id: int) -> int:
    balance = await session.scalar(select(Account.balance).where(Account.id == account_id))
    if balance is None:
        raise NotFound(f"No account {account_id}.")
    return int(balance)


async def refund_order(session: Db, account_id: int, order_id: int, amount: int) -> Posted:
    """Give an order's price back. The unique (order_id, kind) index makes a second refund of
    the same order fail, whatever raced to do it."""
    return await post(session, account_id, EntryKind.ORDER_REFUND, amount, order_id=order_id)
