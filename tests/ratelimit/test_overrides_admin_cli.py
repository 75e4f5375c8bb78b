"""Overrides through the admin API and `smsgate ratelimits`: shapes, validation, errors."""

import json
from collections.abc import Callable

import pytest
from click.testing import Result
from typer.testing import CliRunner

from app.cli.main import cli

BASE = "/admin/accounts/{}/rate-limits"


class TestAdminApi:
    async def test_show_set_clear(self, client, user, admin) -> None:
        shown = await client.get(BASE.format(user.id), headers=admin)
        assert shown.status_code == 200
        data = shown.json()["data"]
        assert data["account_id"] == user.id and data["window_seconds"] == 60
        assert data["limits"]["order_create"] == {"limit": 1200, "default": 1200, "override": None}
        assert set(data["limits"]) == {
            "catalog", "balance", "order_reads", "order_create", "order_cancel",
            "order_actions", "webhook_config",
        }  # fmt: skip

        put = await client.put(
            BASE.format(user.id) + "/order_create", json={"limit": 50}, headers=admin
        )
        assert put.json()["data"]["limits"]["order_create"] == {
            "limit": 50, "default": 1200, "override": 50,
        }  # fmt: skip
        await client.put(BASE.format(user.id) + "/catalog", json={"limit": 9}, headers=admin)
        again = await client.put(
            BASE.format(user.id) + "/order_create", json={"limit": 60}, headers=admin
        )
        assert again.json()["data"]["limits"]["order_create"]["limit"] == 60

        one = await client.delete(BASE.format(user.id) + "/order_create", headers=admin)
        limits = one.json()["data"]["limits"]
        assert limits["order_create"]["override"] is None and limits["catalog"]["limit"] == 9
        every = await client.delete(BASE.format(user.id), headers=admin)
        assert all(v["override"] is None for v in every.json()["data"]["limits"].values())

    @pytest.mark.parametrize(
        "group, body, field",
        [
            ("orders", {"limit": 5}, "group"),
            ("balance", {"limit": -1}, "limit"),
            ("balance", {"limit": 10_000_001}, "limit"),
            ("balance", {"limit": "5"}, "limit"),
            ("balance", {"limit": 5, "extra": 1}, "extra"),
            ("balance", {}, "limit"),
        ],
    )
    async def test_bad_input_is_422_and_writes_nothing(
        self, client, user, admin, group, body, field
    ) -> None:
        response = await client.put(BASE.format(user.id) + f"/{group}", json=body, headers=admin)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert field in [f["field"] for f in error["details"]["fields"]]
        shown = await client.get(BASE.format(user.id), headers=admin)
        assert all(v["override"] is None for v in shown.json()["data"]["limits"].values())

    async def test_unknown_account_is_404(self, client, admin, database_url) -> None:
        for response in (
            await client.get(BASE.format(999), headers=admin),
            await client.put(BASE.format(999) + "/balance", json={"limit": 1}, headers=admin),
            await client.delete(BASE.format(999), headers=admin),
        ):
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "NOT_FOUND"

    async def test_needs_the_admin_token(self, client, user, admin) -> None:
        as_user = await client.get(BASE.format(user.id), headers=user.headers)
        anonymous = await client.put(BASE.format(user.id) + "/balance", json={"limit": 1})
        assert (as_user.status_code, anonymous.status_code) == (403, 401)


@pytest.fixture
def smsgate(database_url: str) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        result = runner.invoke(cli, list(args), env={"DATABASE_URL": database_url})
        assert "Traceback" not in result.stdout + result.stderr
        return result

    return invoke


class TestCli:
    """Plain `def` tests: the command runs its own event loop."""

    @pytest.fixture
    def account_id(self, smsgate) -> str:
        created = smsgate("accounts", "create", "cli-limits")
        return str(json.loads(created.stdout)["account_id"])

    def test_set_show_clear(self, smsgate, account_id) -> None:
        set_ = smsgate("ratelimits", "set", account_id, "order_create", "30")
        assert set_.exit_code == 0, set_.stderr
        assert json.loads(set_.stdout)["limits"]["order_create"]["override"] == 30
        smsgate("ratelimits", "set", account_id, "Balance", "0")
        shown = json.loads(smsgate("ratelimits", "show", account_id).stdout)
        assert shown["limits"]["order_create"] == {"limit": 30, "default": 1200, "override": 30}
        assert shown["limits"]["balance"]["limit"] == 0
        one = json.loads(smsgate("ratelimits", "clear", account_id, "balance").stdout)
        assert one["limits"]["balance"]["override"] is None
        assert one["limits"]["order_create"]["override"] == 30
        every = json.loads(smsgate("ratelimits", "clear", account_id).stdout)
        assert all(v["override"] is None for v in every["limits"].values())

    def test_errors(self, smsgate, account_id) -> None:
        unknown_group = smsgate("ratelimits", "set", account_id, "nope", "3")
        assert unknown_group.exit_code == 2 and "unknown group" in unknown_group.stderr
        negative = smsgate("ratelimits", "set", account_id, "balance", "--", "-3")
        assert negative.exit_code == 2 and "limit" in negative.stderr
        missing = smsgate("ratelimits", "show", "999")
        assert missing.exit_code == 1 and "No account 999" in missing.stderr
