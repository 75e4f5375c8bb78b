"""Fixtures of the admin API tests: an admin token on the app, bulk-made orders."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

ADMIN_TOKEN = "admin-test-token-0123456789"


@pytest.fixture
def admin(app: FastAPI) -> Iterator[dict[str, str]]:
    """Turn the admin API on for one test; the headers that authenticate as admin."""
    settings = app.state.runtime.settings
    app.state.runtime.settings = settings.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN)})
    yield {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    app.state.runtime.settings = settings


@pytest.fixture
def cached_tokens(app: FastAPI) -> Iterator[None]:
    """Token lookups cached for an hour (production caches 2 s): what this process does on
    revoke and disable must clear the cache, or the old answer would be served."""
    from app.auth.service import TokenAuthenticator

    saved = app.state.runtime.authenticator
    app.state.runtime.authenticator = TokenAuthenticator(app.state.runtime.sessionmaker, 3600)
    yield
    app.state.runtime.authenticator = saved
