"""Async helpers that put things in the database through the real services."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import runtime
from app.auth import service as auth_service
from app.catalog import service as catalog_service
from app.catalog.models import Provider
from app.cli.bootstrap import sync_provider_catalogs
from app.kit.polling import PollStep
from app.ledger import service as ledger_service
from app.orders.context import OrdersContext
from app.providers.sandbox import SandboxProvider
from app.workers.poller import Poller


@dataclass
class AccountWithToken:
    id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Factory:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self._n = 0

    async def account(self, name: str | None = None, balance: int = 0) -> AccountWithToken:
        self._n += 1
        async with self.sessionmaker() as session, session.begin():
            account_id = await ledger_service.open_account(
                session, name or f"team-{self._n}", balance
            )
            issued = await auth_service.issue_token(session, account_id)
        return AccountWithToken(account_id, issued.token)

    async def sandbox_catalog(self) -> None:
        await sync_provider_catalogs(self.sessionmaker, {"sandbox": SandboxProvider()})

    async def rate(self, pair: str, rate: str) -> None:
        async with self.sessionmaker() as session, session.begin():
            await catalog_service.set_rate(session, pair, rate)

    async def set_provider_enabled(self, code: str, enabled: bool) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(Provider).where(Provider.code == code).values(enabled=enabled)
            )


def poller_for(ctx: OrdersContext, *more: PollStep[Any]) -> Poller:
    """The production poll loop (every kind of app.runtime.poll_steps), plus `more` steps."""
    return Poller([*runtime.poll_steps(ctx), *more], ctx.engine, ctx.settings)
