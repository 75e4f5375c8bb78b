"""/admin/accounts: accounts and their API tokens."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response

from app.api.admin.params import Id, Limit
from app.api.envelope import ok
from app.api.params import AfterId
from app.auth import service as auth_service
from app.auth.service import TokenAuthenticator
from app.deps import SessionDep, runtime
from app.ledger import service as ledger_service
from app.ops import accounts

router = APIRouter(prefix="/accounts")


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    issue_token: bool = True


def _authenticator(request: Request) -> TokenAuthenticator:
    return runtime(request).authenticator


def _sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    return runtime(request).sessionmaker


@router.post("")
async def create_account(body: AccountCreate, session: SessionDep) -> Response:
    """Create an account; its first API token is shown once unless issue_token is false."""
    account_id = await ledger_service.open_account(session, body.name)
    token = None
    if body.issue_token:
        issued = await auth_service.issue_token(session, account_id)
        token = {"token_id": issued.id, "token": issued.token, "prefix": issued.prefix}
    account = await accounts.get_account(session, account_id)
    return ok({"account": account, "token": token}, status_code=201)


@router.get("")
async def list_accounts(
    session: SessionDep,
    limit: Limit = 100,
    after_id: AfterId = None,
    name: Annotated[str | None, Query(max_length=100)] = None,
    disabled: bool | None = None,
) -> Response:
    """Accounts by id; page on with after_id = meta.next_after_id."""
    items = await accounts.list_accounts(
        session, limit=limit, after_id=after_id, name=name, disabled=disabled
    )
    next_after = items[-1]["id"] if len(items) == limit else None
    return ok(items, meta={"limit": limit, "next_after_id": next_after})


@router.get("/{account_id}")
async def get_account(account_id: Id, session: SessionDep) -> Response:
    """One account, with counts of active tokens and live orders."""
    return ok(await accounts.get_account(session, account_id))


async def _set_disabled(request: Request, account_id: int, disabled: bool) -> Response:
    # Committed before the token cache is cleared: a request racing in between would
    # otherwise cache the account's old state again.
    async with _sessionmaker(request).begin() as session:
        account = await accounts.set_disabled(session, account_id, disabled)
    _authenticator(request).forget()
    return ok(account)


@router.post("/{account_id}/disable")
async def disable_account(account_id: Id, request: Request) -> Response:
    """Its tokens stop working (here at once; other processes within the token cache TTL)."""
    return await _set_disabled(request, account_id, True)


@router.post("/{account_id}/enable")
async def enable_account(account_id: Id, request: Request) -> Response:
    """Give a disabled account its API access back."""
    return await _set_disabled(request, account_id, False)


@router.get("/{account_id}/tokens")
async def list_tokens(account_id: Id, session: SessionDep) -> Response:
    """Token ids, prefixes and dates; never the token or its digest."""
    return ok(await auth_service.list_tokens(session, account_id))


@router.post("/{account_id}/tokens")
async def issue_token(account_id: Id, session: SessionDep) -> Response:
    """Issue a token; the response is the only time it is shown."""
    issued = await auth_service.issue_token(session, account_id)
    data = {
        "token_id": issued.id,
        "account_id": issued.account_id,
        "token": issued.token,
        "prefix": issued.prefix,
    }
    return ok(data, status_code=201)


@router.post("/{account_id}/tokens/{token_id}/revoke")
async def revoke_token(account_id: Id, token_id: Id, request: Request) -> Response:
    """Revoke one token (here at once; other processes within the token cache TTL)."""
    async with _sessionmaker(request).begin() as session:
        await auth_service.revoke_account_token(session, account_id, token_id)
    _authenticator(request).forget()
    return ok({"token_id": token_id, "revoked": True})
