"""Money in and out of accounts: the only code that changes a balance.

Every move is one guarded UPDATE of the account and its ledger row, inside the caller's
transaction; CHECK (balance >= 0) is the last line of defence. Products pay through
`debit`/`refund`/`settle` with their `Subject` (app.ledger.subjects), operators through
`credit` (top-up) and `adjust`; all of them are `post`. The create hot path debits and
inserts its subject in ONE statement built here by `debit_and_insert_sql`, from the same
guard and the same entry kinds as `post`.
"""

from dataclasses import dataclass

from sqlalchemy import insert, select, text

from app.accounts import service as accounts_service
from app.accounts.models import Account
from app.db.engine import Db
from app.errors import InsufficientBalance, NotFound, ValidationFailed
from app.kit.clock import utcnow
from app.ledger import subjects
from app.ledger.models import EntryKind, LedgerEntry
from app.ledger.subjects import Subject

MAX_AMOUNT = 10**15  # IDR; far beyond any real balance, well inside BIGINT


@dataclass(frozen=True, slots=True)
class Posted:
    account_id: int
    entry_id: int
    amount: int
    balance: int


# The guard: a debit changes the balance only if it covers the amount, in the UPDATE's
# WHERE, so concurrent debits serialize on the account row and can never overdraw.
def _debit_account(amount: str, now: str, account_id: str) -> str:
    return (
        f"UPDATE accounts SET balance = balance - {amount}, updated_at = {now}"
        f" WHERE id = {account_id} AND balance >= {amount} RETURNING id, balance"
    )


def _credit_account(amount: str, now: str, account_id: str) -> str:
    return (
        f"UPDATE accounts SET balance = balance + {amount}, updated_at = {now}"
        f" WHERE id = {account_id} RETURNING id, balance"
    )


_DEBIT = text(_debit_account(":amount", ":now", ":account_id"))
_CREDIT = text(_credit_account(":amount", ":now", ":account_id"))


def debit_and_insert_sql(subject: Subject, insert_subject: str) -> str:
    """One statement for the money half of a purchase: take the price from the balance
    (only if it covers it), insert the subject, write its debit. Build it once, at import.

    Parameters: $1 the price (positive), $2 now, $3 the account; `insert_subject` is the
    kind's own `INSERT … SELECT … FROM account … RETURNING id` (`account.id` is the account,
    its values are $4 onwards). Yields one row (subject_id, balance), or none when the
    balance does not cover the price (nothing is then written). balance_after is the
    balance the UPDATE produced, and the unique (subject, kind) index allows one debit.
    """
    if "FROM account" not in insert_subject or "RETURNING id" not in insert_subject:
        raise ValueError("the subject's INSERT must select FROM account and RETURNING id")
    return f"""
    WITH account AS ({_debit_account("$1", "$2", "$3")}
    ), subject AS ({insert_subject}
    ), entry AS (
        INSERT INTO ledger_entries (account_id, kind, amount, balance_after, {subject.column},
                                    created_at)
        SELECT account.id, '{subject.debit}', -$1::bigint, account.balance, subject.id, $2
        FROM account, subject
    )
    SELECT subject.id AS subject_id, account.balance AS balance FROM account, subject
    """


async def post(
    session: Db,
    account_id: int,
    kind: EntryKind | str,
    amount: int,
    *,
    subject_id: int | None = None,
    reference: str | None = None,
) -> Posted:
    """Apply `amount` (signed) to the balance and append its ledger row, atomically.

    A debit that would take the balance below zero changes nothing and raises
    InsufficientBalance. `subject_id` is what a subject's entry pays for (the kind says
    which subject); the database refuses a subject entry without one.
    """
    if amount == 0 or abs(amount) > MAX_AMOUNT:
        raise ValidationFailed(f"Amount must be non-zero and at most {MAX_AMOUNT} in size.")
    subject = subjects.BY_ENTRY_KIND.get(kind)
    if subject is None and subject_id is not None:
        raise ValueError(f"a {kind} entry is about no subject")
    params = {"amount": abs(amount), "now": utcnow(), "account_id": account_id}
    new_balance = (await session.execute(_DEBIT if amount < 0 else _CREDIT, params)).first()
    if new_balance is None:
        exists = await session.scalar(select(Account.id).where(Account.id == account_id))
        if exists is None:
            raise NotFound(f"No account {account_id}.")
        raise InsufficientBalance()
    values = {"account_id": account_id, "kind": str(kind), "amount": amount,
              "balance_after": new_balance.balance, "reference": reference}  # fmt: skip
    if subject is not None:
        values[subject.column] = subject_id
    entry_id = await session.scalar(insert(LedgerEntry).values(values).returning(LedgerEntry.id))
    assert entry_id is not None
    return Posted(account_id, entry_id, amount, new_balance.balance)


def _positive(amount: int, what: str) -> int:
    if amount <= 0:
        raise ValidationFailed(f"A {what} amount must be a positive number of IDR.")
    return amount


async def debit(
    session: Db, subject: Subject, subject_id: int, account_id: int, amount: int
) -> Posted:
    """Charge `amount` (> 0) for a subject, at most once (the unique index)."""
    return await post(
        session, account_id, subject.debit, -_positive(amount, "debit"), subject_id=subject_id
    )


async def refund(
    session: Db, subject: Subject, subject_id: int, account_id: int, amount: int
) -> Posted:
    """Give `amount` (> 0) back for a subject. The unique (subject, kind) index makes a
    second refund of the same subject fail, whatever raced to do it."""
    return await post(
        session, account_id, subject.refund, _positive(amount, "refund"), subject_id=subject_id
    )


async def settle(
    session: Db, subject: Subject, subject_id: int, account_id: int, amount: int
) -> Posted:
    """Correct a subject's debit once its real price is known: `amount` < 0 charges more,
    > 0 gives back. Once per subject."""
    if subject.settle is None:
        raise ValueError(f"{subject.kind} has no settle entry kind")
    return await post(session, account_id, subject.settle, amount, subject_id=subject_id)


async def credit(session: Db, account_id: int, amount: int, reference: str | None) -> Posted:
    """A top-up: money paid in."""
    return await post(
        session, account_id, EntryKind.TOPUP, _positive(amount, "top-up"), reference=reference
    )


async def adjust(session: Db, account_id: int, amount: int, reference: str | None) -> Posted:
    """An operator's correction, either sign; never below a zero balance."""
    return await post(session, account_id, EntryKind.ADJUSTMENT, amount, reference=reference)


async def open_account(session: Db, name: str, balance: int = 0) -> int:
    """Create an account with an opening balance, posted as a top-up (the ledger is the only
    way a balance changes, even the first time)."""
    if balance < 0 or balance > MAX_AMOUNT:
        raise ValidationFailed(f"Opening balance must be between 0 and {MAX_AMOUNT}.")
    account_id = await accounts_service.create_account(session, name)
    if balance:
        await credit(session, account_id, balance, "opening balance")
    return account_id


async def get_balance(session: Db, account_id: int) -> int:
    balance = await session.scalar(select(Account.balance).where(Account.id == account_id))
    if balance is None:
        raise NotFound(f"No account {account_id}.")
    return int(balance)
