"""Fixtures of the admin API tests: an admin token on the app, bulk-made orders."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

ADMIN_TOKEN = "admin-test-token-0123456789"


@pytest.fixture
def admin(app: FastAPI) -> Iterator[dict[str, str]]:
    """Turn the admin API on for one test; the headers that authenticate as admin."""
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN)})
    yield {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    app.state.settings = settings
