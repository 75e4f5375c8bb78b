"""The official SDK's default namespace (/v2, USD) against a real `smsgate serve`."""

import asyncio
import time
from decimal import Decimal
from pathlib import Path

from smscode import SmscodeClient
from smscode.errors import FxRateUnavailableError

from tests.e2e.server import running_server
from tests.factories import Factory

ENV = {
    "SMSGATE_BOOTSTRAP_DEMO": "false",
    "SMSGATE_TOKEN_CACHE_SECONDS": "0",
    # The cancel below must land between 1 s (the cancel window) and the SMS: 6 s leave a
    # slow machine nearly 5 s for one request, where 3 s left it 1.7 s.
    "SMSGATE_SANDBOX_SMS_DELAY_SECONDS": "6",
    "SMSGATE_SANDBOX_NO_SMS_RATE": "0",
    "SMSGATE_SANDBOX_CODELESS_RATE": "0",
    "SMSGATE_SANDBOX_MIN_CANCEL_SECONDS": "1",
    "SMSGATE_POLL_INTERVAL_SECONDS": "0.2",
}


async def test_sdk_default_namespace(factory: Factory, database_url: str, tmp_path: Path):
    await factory.sandbox_catalog()
    user = await factory.account(balance=200_000)
    env = {**ENV, "DATABASE_URL": database_url}
    with running_server(env, tmp_path) as srv:

        def without_rate() -> None:
            with SmscodeClient(token=user.token, base_url=srv.base_url) as c:
                try:
                    c.balance.get()
                except FxRateUnavailableError as exc:
                    assert exc.http_status == 503
                else:
                    raise AssertionError("a /v2 balance without a USD/IDR rate")

        await asyncio.to_thread(without_rate)
        await factory.rate("USD/IDR", "16250")

        def drive() -> None:
            with SmscodeClient(token=user.token, base_url=srv.base_url) as c:
                page = c.catalog.products(limit=5)
                cheapest = page.products[0]
                assert cheapest.price.currency == "USD" and page.fx.rate == 16250
                balance = c.balance.get()
                assert balance.balance.amount == "12.31"  # 200,000 IDR at 16,250, 2 decimals
                assert balance.balance.canonical_amount == 200_000

                created = c.orders.create(
                    {"catalog_product_id": cheapest.catalog_product_id, "max_price": "0.50",
                     "quantity": 1}
                )  # fmt: skip
                order = created.orders[0]
                assert created.failed_count == 0 and order.amount.currency == "USD"
                assert Decimal(order.amount.amount) <= Decimal("0.50")
                otp = c.orders.wait_for_otp(order["id"], timeout_ms=30_000, poll_interval_ms=200)
                assert otp.otp_code and otp.otp_code.isdigit()
                assert c.orders.finish(order["id"]).status == "COMPLETED"

                options = c.orders.reactivate_options(order["id"])
                assert options.cost.currency == "USD" and options.fx.pair == "USD/IDR"
                child = c.orders.reactivate(order["id"], max_price="1.00").orders[0]
                assert child["phone_number"] == order["phone_number"]

                second = c.orders.create({"product_id": cheapest.id}).orders[0]
                time.sleep(1.3)  # past the 1 s cancel window, well before the 6 s SMS
                canceled = c.orders.cancel(second["id"])
                assert canceled.status == "CANCELED"
                assert canceled.refund_amount.canonical_amount == second.amount.canonical_amount
                assert canceled.new_balance.currency == "USD"

                assert c.orders.get(order["id"])["status"] == "COMPLETED"
                listed = c.orders.list()
                assert len(listed.orders) == 3 and listed.fx.rate == 16250
                hook = c.webhook.get()
                assert hook.webhook_url is None and hook.webhook_consecutive_failures == 0

        await asyncio.to_thread(drive)
