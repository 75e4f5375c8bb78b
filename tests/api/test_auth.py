"""Bearer tokens: every way to be refused is 401 in the envelope; tokens are stored hashed;
the per-process lookup cache."""

import hashlib
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select, text, update

from app.accounts.models import Account
from app.auth.models import ApiToken
from app.auth.service import Principal, TokenAuthenticator, issue_token, revoke_token
from tests.factories import AccountWithToken, Factory

ENDPOINTS = ["/v1/balance", "/v1/catalog/countries"]


@pytest.fixture
async def user(factory: Factory) -> AccountWithToken:
    return await factory.account(balance=2_500)


async def revoke(sessionmaker, token: str) -> int:
    async with sessionmaker() as session, session.begin():
        return await revoke_token(session, token)


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "error": {"code": "UNAUTHORIZED", "message": "Missing or invalid API token."},
    }


@pytest.mark.parametrize("path", ENDPOINTS)
class TestRefused:
    async def test_no_authorization_header(self, client, user, path):
        assert_unauthorized(await client.get(path))

    @pytest.mark.parametrize(
        "header",
        ["Basic x", "Basic dXNlcjpwYXNz", "Token abc", "Bearer", "Bearer ", "Bearer    ", ""],
    )
    async def test_malformed_header(self, client, user, path, header):
        assert_unauthorized(await client.get(path, headers={"Authorization": header}))

    async def test_right_token_wrong_scheme(self, client, user, path):
        response = await client.get(path, headers={"Authorization": f"Basic {user.token}"})
        assert_unauthorized(response)

    async def test_bare_token_without_scheme(self, client, user, path):
        assert_unauthorized(await client.get(path, headers={"Authorization": user.token}))

    async def test_unknown_token(self, client, user, path):
        response = await client.get(path, headers={"Authorization": "Bearer sg_not-a-real-token"})
        assert_unauthorized(response)

    async def test_token_with_one_character_changed(self, client, user, path):
        forged = user.token[:-1] + ("A" if user.token[-1] != "A" else "B")
        assert_unauthorized(await client.get(path, headers={"Authorization": f"Bearer {forged}"}))

    async def test_overlong_token(self, client, user, path):
        response = await client.get(path, headers={"Authorization": "Bearer " + "x" * 513})
        assert_unauthorized(response)

    async def test_revoked_token(self, client, user, path, sessionmaker):
        assert (await client.get(path, headers=user.headers)).status_code == 200
        await revoke(sessionmaker, user.token)
        assert_unauthorized(await client.get(path, headers=user.headers))

    async def test_disabled_account(self, client, user, path, sessionmaker):
        assert (await client.get(path, headers=user.headers)).status_code == 200
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Account).where(Account.id == user.id).values(disabled_at=datetime.now(UTC))
            )
        assert_unauthorized(await client.get(path, headers=user.headers))

    async def test_revoking_one_token_leaves_the_others(self, client, user, path, sessionmaker):
        other = await _second_token(sessionmaker, user.id)
        await revoke(sessionmaker, user.token)
        assert_unauthorized(await client.get(path, headers=user.headers))
        response = await client.get(path, headers={"Authorization": f"Bearer {other}"})
        assert response.status_code == 200


@pytest.mark.parametrize("path", ENDPOINTS)
class TestAccepted:
    async def test_valid_token(self, client, user, path):
        response = await client.get(path, headers=user.headers)
        assert response.status_code == 200
        assert response.json()["success"] is True

    @pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
    async def test_scheme_is_case_insensitive(self, client, user, path, scheme):
        response = await client.get(path, headers={"Authorization": f"{scheme} {user.token}"})
        assert response.status_code == 200

    async def test_surrounding_whitespace_is_ignored(self, client, user, path):
        response = await client.get(path, headers={"Authorization": f"Bearer  {user.token}  "})
        assert response.status_code == 200


async def _second_token(sessionmaker, account_id: int) -> str:
    async with sessionmaker() as session, session.begin():
        return (await issue_token(session, account_id)).token


class TestAuthenticatorCache:
    async def _token_id(self, sessionmaker, token: str) -> int:
        digest = hashlib.sha256(token.encode()).digest()
        async with sessionmaker() as session:
            return await session.scalar(select(ApiToken.id).where(ApiToken.token_hash == digest))

    async def test_resolves_to_the_account_and_token(self, sessionmaker, user):
        authenticator = TokenAuthenticator(sessionmaker, ttl_seconds=0)
        token_id = await self._token_id(sessionmaker, user.token)
        assert await authenticator.authenticate(user.token) == Principal(user.id, token_id)
        assert await authenticator.authenticate("sg_unknown") is None

    async def test_with_ttl_a_revoked_token_resolves_until_forget(self, sessionmaker, user):
        # Intended: a per-process cache. Revocation reaches a process within the TTL;
        # whoever revokes in-process calls forget() to make it immediate.
        authenticator = TokenAuthenticator(sessionmaker, ttl_seconds=300)
        principal = await authenticator.authenticate(user.token)
        assert principal is not None and principal.account_id == user.id
        await revoke(sessionmaker, user.token)
        assert await authenticator.authenticate(user.token) == principal
        authenticator.forget()
        assert await authenticator.authenticate(user.token) is None

    async def test_with_ttl_a_disabled_account_resolves_until_forget(self, sessionmaker, user):
        authenticator = TokenAuthenticator(sessionmaker, ttl_seconds=300)
        principal = await authenticator.authenticate(user.token)
        assert principal is not None
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Account).where(Account.id == user.id).values(disabled_at=datetime.now(UTC))
            )
        assert await authenticator.authenticate(user.token) == principal
        authenticator.forget()
        assert await authenticator.authenticate(user.token) is None

    async def test_without_ttl_revocation_is_immediate(self, sessionmaker, user):
        authenticator = TokenAuthenticator(sessionmaker, ttl_seconds=0)
        assert await authenticator.authenticate(user.token) is not None
        await revoke(sessionmaker, user.token)
        assert await authenticator.authenticate(user.token) is None

    async def test_forget_without_cache_is_harmless(self, sessionmaker, user):
        authenticator = TokenAuthenticator(sessionmaker, ttl_seconds=0)
        authenticator.forget()
        assert await authenticator.authenticate(user.token) is not None


class TestStoredHashed:
    async def test_no_column_holds_the_token(self, sessionmaker, user):
        async with sessionmaker() as session:
            rows = (await session.execute(text("SELECT * FROM api_tokens"))).mappings().all()
        assert len(rows) == 1
        row = rows[0]
        token_bytes = user.token.encode()
        for column, value in row.items():
            if isinstance(value, str):
                assert user.token not in value, column
            elif isinstance(value, bytes | memoryview):
                assert token_bytes not in bytes(value), column

    async def test_hash_is_sha256_of_the_token(self, sessionmaker, user):
        async with sessionmaker() as session:
            row = (await session.execute(select(ApiToken))).scalar_one()
        assert bytes(row.token_hash) == hashlib.sha256(user.token.encode()).digest()
        assert row.account_id == user.id
        assert row.revoked_at is None
        # Only a short prefix is kept in clear, to recognise the token in listings.
        assert row.prefix == user.token[:10] and len(row.prefix) < len(user.token)
        assert user.token.startswith("sg_") and len(user.token) >= 40

    async def test_revocation_is_recorded_not_deleted(self, sessionmaker, user):
        token_id = await revoke(sessionmaker, user.token)
        async with sessionmaker() as session:
            row = (await session.execute(select(ApiToken))).scalar_one()
        assert row.id == token_id and row.revoked_at is not None
