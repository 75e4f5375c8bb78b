"""Accounts and tokens through /admin: create, list, get, disable/enable, tokens."""

import httpx
import pytest

from tests.factories import Factory


async def test_create_list_get(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    created = await client.post("/admin/accounts", json={"name": "ops-team"}, headers=admin)
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    account, token = data["account"], data["token"]
    assert account["name"] == "ops-team" and account["balance"] == 0
    assert account["disabled"] is False and account["active_tokens"] == 1
    assert token["token"].startswith(token["prefix"])
    balance = await client.get("/v1/balance", headers={"Authorization": f"Bearer {token['token']}"})
    assert balance.json()["data"]["balance"] == 0

    again = await client.post("/admin/accounts", json={"name": "ops-team"}, headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"

    for n in range(5):
        await client.post(
            "/admin/accounts", json={"name": f"team-{n}", "issue_token": False}, headers=admin
        )
    first = (await client.get("/admin/accounts?limit=4", headers=admin)).json()
    assert [a["name"] for a in first["data"]] == ["ops-team", "team-0", "team-1", "team-2"]
    after = first["meta"]["next_after_id"]
    rest = (await client.get(f"/admin/accounts?limit=4&after_id={after}", headers=admin)).json()
    assert [a["name"] for a in rest["data"]] == ["team-3", "team-4"]
    assert rest["meta"]["next_after_id"] is None
    named = (await client.get("/admin/accounts?name=TEAM-", headers=admin)).json()["data"]
    assert len(named) == 5

    one = await client.get(f"/admin/accounts/{account['id']}", headers=admin)
    assert one.json()["data"]["name"] == "ops-team"
    missing = await client.get("/admin/accounts/999999", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "body, field",
    [({}, "name"), ({"name": ""}, "name"), ({"name": "x", "balance": 5}, "balance")],
)
async def test_create_validates(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, object], field: str
) -> None:
    response = await client.post("/admin/accounts", json=body, headers=admin)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in [f["field"] for f in error["details"]["fields"]]


async def test_disabled_account_tokens_get_401_at_once_even_with_a_token_cache(
    client: httpx.AsyncClient,
    factory: Factory,
    admin: dict[str, str],
    cached_tokens: None,
) -> None:
    user = await factory.account()
    other = await factory.account()
    assert (await client.get("/v1/balance", headers=user.headers)).status_code == 200
    assert (await client.get("/v1/balance", headers=other.headers)).status_code == 200

    disabled = await client.post(f"/admin/accounts/{user.id}/disable", headers=admin)
    assert disabled.json()["data"]["disabled"] is True
    refused = await client.get("/v1/balance", headers=user.headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "UNAUTHORIZED"
    assert (await client.get("/v1/balance", headers=other.headers)).status_code == 200

    listed = (await client.get("/admin/accounts?disabled=true", headers=admin)).json()["data"]
    assert [a["id"] for a in listed] == [user.id]

    enabled = await client.post(f"/admin/accounts/{user.id}/enable", headers=admin)
    assert enabled.json()["data"]["disabled_at"] is None
    assert (await client.get("/v1/balance", headers=user.headers)).status_code == 200


async def test_tokens_issue_list_revoke(
    client: httpx.AsyncClient,
    factory: Factory,
    admin: dict[str, str],
    cached_tokens: None,
) -> None:
    user = await factory.account()
    other = await factory.account()
    issued = await client.post(f"/admin/accounts/{user.id}/tokens", headers=admin)
    assert issued.status_code == 201
    new = issued.json()["data"]
    new_headers = {"Authorization": f"Bearer {new['token']}"}
    assert (await client.get("/v1/balance", headers=new_headers)).status_code == 200

    listed = await client.get(f"/admin/accounts/{user.id}/tokens", headers=admin)
    tokens = listed.json()["data"]
    assert [t["id"] for t in tokens] == [1, new["token_id"]]
    assert set(tokens[0]) == {"id", "prefix", "created_at", "revoked_at", "active"}
    assert new["token"] not in listed.text and user.token not in listed.text
    assert new["prefix"] == tokens[1]["prefix"]

    wrong_account = await client.post(
        f"/admin/accounts/{other.id}/tokens/{new['token_id']}/revoke", headers=admin
    )
    assert wrong_account.status_code == 404
    revoked = await client.post(
        f"/admin/accounts/{user.id}/tokens/{new['token_id']}/revoke", headers=admin
    )
    assert revoked.json()["data"] == {"token_id": new["token_id"], "revoked": True}
    assert (await client.get("/v1/balance", headers=new_headers)).status_code == 401
    assert (await client.get("/v1/balance", headers=user.headers)).status_code == 200
    after = (await client.get(f"/admin/accounts/{user.id}/tokens", headers=admin)).json()
    assert [t["active"] for t in after["data"]] == [True, False]
