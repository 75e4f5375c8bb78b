"""The contract under any input (issue #19): the caller is authenticated before anything
reads the body or the query; one input policy for strings (no NUL, no lone surrogate) and
ids (integers in bigint range, a path id parses like a body id); 405 names the methods."""

import httpx
import pytest

from tests.factories import AccountWithToken, Factory

JSON = {"Content-Type": "application/json"}
TOO_BIG = 2**63


@pytest.fixture
async def user(factory: Factory) -> AccountWithToken:
    return await factory.account(balance=0)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code, body
    assert "x-request-id" in response.headers
    return body["error"]


def fields(error: dict) -> list[str]:
    return [f["field"] for f in error["details"]["fields"]]


class TestAuthenticatedFirst:
    @pytest.mark.parametrize(
        "path", ["/v1/orders/create", "/v2/orders/create", "/v1/orders/cancel"]
    )
    async def test_malformed_body_without_token_is_401(self, client, path):
        response = await client.post(path, content=b"{bad", headers=JSON)
        assert_error(response, 401, "UNAUTHORIZED")

    async def test_bad_query_without_token_is_401(self, client):
        assert_error(await client.get("/v1/orders", params={"limit": "x"}), 401, "UNAUTHORIZED")

    async def test_refused_query_without_token_is_401(self, client, admin):
        response = await client.get("/admin/orders", params={"phone_number": "\x00"})
        assert_error(response, 401, "UNAUTHORIZED")

    async def test_unknown_route_without_token_is_still_404(self, client, admin):
        response = await client.post("/admin/nope", content=b"{bad", headers=JSON)
        assert_error(response, 404, "NOT_FOUND")

    async def test_admin_malformed_body_without_token_is_401(self, client, admin):
        response = await client.post("/admin/accounts", content=b"{bad", headers=JSON)
        assert_error(response, 401, "UNAUTHORIZED")

    async def test_admin_malformed_body_with_account_token_is_403(self, client, admin, user):
        response = await client.post(
            "/admin/accounts", content=b"{bad", headers={**JSON, **user.headers}
        )
        assert_error(response, 403, "FORBIDDEN")

    async def test_authenticated_malformed_body_is_still_422(self, client, user):
        response = await client.post(
            "/v1/orders/create", content=b"{bad", headers={**JSON, **user.headers}
        )
        assert fields(assert_error(response, 422, "VALIDATION_ERROR")) == ["body"]


class TestStrings:
    @pytest.mark.parametrize("raw", [b'{"name": "a\\u0000b"}', b'{"name": "a\\ud800b"}'])
    async def test_nul_or_lone_surrogate_in_a_body_string_is_422(self, client, admin, raw):
        response = await client.post("/admin/accounts", content=raw, headers={**JSON, **admin})
        assert fields(assert_error(response, 422, "VALIDATION_ERROR")) == ["name"]

    async def test_a_surrogate_pair_is_a_character(self, client, admin):
        raw = b'{"name": "a\\ud83d\\ude00b", "issue_token": false}'
        response = await client.post("/admin/accounts", content=raw, headers={**JSON, **admin})
        assert response.status_code == 201, response.text

    async def test_nul_in_a_topup_reference_is_422(self, client, admin, user):
        response = await client.post(
            f"/admin/accounts/{user.id}/topups",
            json={"amount": 10, "reference": "r\x00"}, headers=admin,
        )  # fmt: skip
        assert fields(assert_error(response, 422, "VALIDATION_ERROR")) == ["reference"]

    async def test_nul_in_a_mapping_put_is_422(self, client, admin):
        response = await client.put(
            "/admin/providers/sandbox/mappings",
            json={"kind": "country", "upstream_code": "a\x00", "canonical_code": None},
            headers=admin,
        )
        assert fields(assert_error(response, 422, "VALIDATION_ERROR")) == ["upstream_code"]

    async def test_nul_in_a_nested_field_names_its_path(self, client, admin):
        raw = b'{"name": "ok", "x": [{"y": "\\u0000"}]}'
        response = await client.post("/admin/accounts", content=raw, headers={**JSON, **admin})
        assert fields(assert_error(response, 422, "VALIDATION_ERROR")) == ["x.0.y"]

    async def test_nul_in_a_query_parameter_is_422(self, client, admin):
        response = await client.get("/admin/orders", params={"phone_number": "\x00"}, headers=admin)
        assert fields(assert_error(response, 422, "VALIDATION_ERROR")) == ["phone_number"]

    async def test_nul_in_a_path_parameter_is_422(self, client, admin, user):
        response = await client.put(
            f"/admin/accounts/{user.id}/rate-limits/a%00b", json={"limit": 1}, headers=admin
        )
        assert_error(response, 422, "VALIDATION_ERROR")


class TestIds:
    @pytest.mark.parametrize(
        "path",
        [
            f"/admin/webhooks/accounts/{TOO_BIG}/deliveries",
            f"/admin/webhooks/accounts/1/deliveries?before_id={TOO_BIG}",
        ],
    )
    async def test_out_of_range_ids_are_422(self, client, admin, path):
        assert_error(await client.get(path, headers=admin), 422, "VALIDATION_ERROR")

    async def test_out_of_range_event_id_is_422(self, client, admin):
        response = await client.post(f"/admin/webhooks/events/{TOO_BIG}/redeliver", headers=admin)
        assert_error(response, 422, "VALIDATION_ERROR")

    async def test_out_of_range_account_id_on_redeliver_is_422(self, client, admin):
        response = await client.post(
            f"/admin/webhooks/accounts/{TOO_BIG}/redeliver",
            json={"since": "2026-01-01T00:00:00Z"}, headers=admin,
        )  # fmt: skip
        assert_error(response, 422, "VALIDATION_ERROR")

    async def test_largest_bigint_id_is_not_found(self, client, user):
        response = await client.get(f"/v1/orders/{2**63 - 1}", headers=user.headers)
        assert_error(response, 404, "NOT_FOUND")

    @pytest.mark.parametrize("spelling", ["1.0", "1e0", "+1", " 1", "01x"])
    async def test_path_id_parses_like_a_body_id(self, client, user, spelling):
        response = await client.get(f"/v1/orders/{spelling}", headers=user.headers)
        assert fields(assert_error(response, 422, "VALIDATION_ERROR")) == ["order_id"]
        body = await client.post("/v1/orders/cancel", json={"id": 1.0}, headers=user.headers)
        assert_error(body, 422, "VALIDATION_ERROR")

    async def test_redeliver_for_a_missing_account_is_404(self, client, admin):
        response = await client.post(
            "/admin/webhooks/accounts/999999/redeliver",
            json={"since": "2026-01-01T00:00:00Z"}, headers=admin,
        )  # fmt: skip
        assert_error(response, 404, "NOT_FOUND")


class TestMethodNotAllowed:
    @pytest.mark.parametrize(
        ("method", "path", "allow"),
        [
            ("OPTIONS", "/v1/orders/cancel", "POST"),
            ("GET", "/v1/orders/cancel", "POST"),
            ("GET", "/v2/orders/create", "POST"),
            ("DELETE", "/v1/webhook", "GET, PATCH"),
            ("PUT", "/v1/orders", "GET"),
        ],
    )
    async def test_allow_lists_the_routes_methods(self, client, user, method, path, allow):
        response = await client.request(method, path, headers=user.headers)
        assert_error(response, 405, "METHOD_NOT_ALLOWED")
        assert response.headers["allow"] == allow

    async def test_admin_allow(self, client, admin):
        response = await client.request("PATCH", "/admin/accounts", headers=admin)
        assert_error(response, 405, "METHOD_NOT_ALLOWED")
        assert response.headers["allow"] == "GET, POST"


async def test_one_token_lookup_per_request(client, app, user, monkeypatch):
    """The gate resolves the caller; the route's PrincipalDep reuses it (no second lookup)."""
    authenticator = app.state.runtime.authenticator
    calls = []
    original = authenticator.authenticate

    async def counting(token: str):
        calls.append(token)
        return await original(token)

    monkeypatch.setattr(authenticator, "authenticate", counting)
    response = await client.get("/v1/balance", headers=user.headers)
    assert response.status_code == 200, response.text
    assert "x-ratelimit-limit" in {k.lower() for k in response.headers}
    assert calls == [user.token]
