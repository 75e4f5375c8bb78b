"""Creating accounts. Balances are not set here: app.ledger.service.open_account posts the
opening balance through the ledger."""

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Account
from app.db.engine import Db
from app.errors import Conflict, ValidationFailed


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("Account name must be 1-100 characters.")
    return name


async def create_account(session: Db, name: str) -> int:
    """A new account with a zero balance; a taken name is 409 CONFLICT."""
    name = check_name(name)
    try:
        async with session.begin_nested():
            account_id = await session.scalar(
                insert(Account).values(name=name).returning(Account.id)
            )
    except IntegrityError as exc:
        raise Conflict(f"An account named {name!r} exists already.") from exc
    assert account_id is not None
    return int(account_id)
