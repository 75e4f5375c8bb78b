"""What `smsgate serve` does once before serving: load provider catalogs, and on a brand-new
database create the `demo` account so the gateway can be tried at once."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import Account
from app.auth import service as auth_service
from app.catalog import jobs
from app.catalog import repository as catalog_repository
from app.config import Settings
from app.ledger import service as ledger_service
from app.providers.base import Provider

DEMO_ACCOUNT = "demo"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    account_id: int
    token: str
    token_file: str


async def sync_provider_catalogs(
    sessionmaker: async_sessionmaker[AsyncSession],
    providers: Mapping[str, Provider],
    settings: Settings | None = None,
) -> list[jobs.SyncOutcome]:
    """Every provider's catalog; one that fails is reported and does not stop the start."""
    return await jobs.sync_all(sessionmaker, dict(providers), settings)


async def create_demo_account(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> DemoAccount | None:
    """Only on an empty accounts table, so it happens once per database."""
    if not settings.demo_enabled:
        return None
    async with sessionmaker() as session, session.begin():
        # Serialize concurrent first starts: the second one sees the account and stops.
        await session.execute(select(func.pg_advisory_xact_lock(7_001_001)))
        if await session.scalar(select(func.count()).select_from(Account)):
            return None
        account_id = await ledger_service.open_account(session, DEMO_ACCOUNT, settings.demo_balance)
        issued = await auth_service.issue_token(session, account_id)
        if await catalog_repository.get_rate(session, "USD/IDR") is None:
            await catalog_repository.upsert_rate(
                session, "USD", "IDR", Decimal(settings.demo_usd_idr_rate)
            )
        path = settings.demo_token_file
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(issued.token + "\n")
    return DemoAccount(account_id, issued.token, str(path))
