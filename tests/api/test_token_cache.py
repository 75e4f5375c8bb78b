"""The token cache's read is one step: an entry expiring between a membership check and
the read must not turn into a KeyError (a 500)."""

from typing import Any

from cachetools import TTLCache

from app.auth.service import TokenAuthenticator, hash_token
from tests.factories import Factory


class ExpiresAfterCheck(TTLCache[bytes, Any]):
    """Says an entry is there, then has it expire before it can be read."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: bytes) -> Any:
        raise KeyError(key)

    def get(self, key: bytes, default: Any = None) -> Any:
        return default


async def test_entry_expiring_between_check_and_read_is_looked_up(sessionmaker, factory: Factory):
    user = await factory.account(balance=0)
    auth = TokenAuthenticator(sessionmaker, ttl_seconds=60)
    auth._cache = ExpiresAfterCheck(maxsize=10, ttl=60)
    principal = await auth.authenticate(user.token)
    assert principal is not None and principal.account_id == user.id


async def test_a_refused_token_is_cached_as_refused(sessionmaker):
    auth = TokenAuthenticator(sessionmaker, ttl_seconds=60)
    assert await auth.authenticate("sg_nope") is None
    assert auth._cache is not None and hash_token("sg_nope") in auth._cache
    assert await auth.authenticate("sg_nope") is None
