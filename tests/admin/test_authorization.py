"""The admin authorization matrix, on EVERY /admin route (enumerated from the app, so a
route added later is covered without touching this file)."""

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from tests.admin.conftest import ADMIN_TOKEN
from tests.factories import Factory


def _routes(routes: list[object]) -> Iterator[tuple[str, str]]:
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # FastAPI ≥ 0.160 keeps included routers nested
            for ctx in contexts():
                yield from _methods(ctx.path, ctx.original_route)
        else:
            yield from _methods(getattr(route, "path", ""), route)


def _methods(path: str, route: object) -> Iterator[tuple[str, str]]:
    for method in sorted(getattr(route, "methods", None) or ()):
        if method != "HEAD":
            yield method, path


def admin_routes(app: FastAPI) -> list[tuple[str, str]]:
    found = sorted({(m, p) for m, p in _routes(app.routes) if p.startswith("/admin")})
    documented = {
        (m.upper(), p)
        for p, ops in app.openapi()["paths"].items()
        if p.startswith("/admin")
        for m in ops
    }
    assert documented <= set(found), "route enumeration missed documented admin routes"
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def _call(client: httpx.AsyncClient, method: str, path: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    kwargs = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
    return await client.request(method, concrete(path), headers=headers, **kwargs)


def test_the_matrix_sees_every_area(app: FastAPI) -> None:
    paths = {p for _, p in admin_routes(app)}
    for area in ("accounts", "orders", "reports", "providers", "rates", "ledger", "topups"):
        assert any(area in p for p in paths), area
    assert len(paths) >= 15


async def test_every_admin_route(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory, admin: dict[str, str]
) -> None:
    account = await factory.account()
    for method, path in admin_routes(app):
        where = f"{method} {path}"
        missing = await _call(client, method, path, None)
        assert missing.status_code == 401, where
        assert missing.json()["error"]["code"] == "UNAUTHORIZED", where
        basic = await client.request(method, concrete(path), headers={"Authorization": "Basic abc"})
        assert basic.status_code == 401, where
        for token in (account.token, "wrong-" + ADMIN_TOKEN, ADMIN_TOKEN[:-1]):
            denied = await _call(client, method, path, token)
            assert denied.status_code == 403, where
            assert denied.json() == {
                "success": False,
                "error": {"code": "FORBIDDEN", "message": "Admin token required."},
            }, where
        allowed = await _call(client, method, path, ADMIN_TOKEN)
        assert allowed.status_code not in (401, 403), (where, allowed.text)
        assert allowed.status_code < 500, (where, allowed.text)


async def test_admin_api_is_off_without_a_configured_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert app.state.runtime.settings.admin_token is None
    for method, path in admin_routes(app):
        response = await _call(client, method, path, ADMIN_TOKEN)
        assert response.status_code == 403, f"{method} {path}"


@pytest.mark.parametrize("path", ["/v1/balance", "/v1/orders"])
async def test_the_admin_token_is_not_an_account_token(
    client: httpx.AsyncClient, admin: dict[str, str], path: str
) -> None:
    response = await client.get(path, headers=admin)
    assert response.status_code == 401
