"""Orders through the official `smscode` SDK against a real `smsgate serve` process that runs
its own poller: create → wait_for_otp → finish, reads, resend, reactivation, cancel.

The SDK validates every response shape (InvalidResponseError otherwise), so a call that
returns at all has passed its checks.
"""

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from smscode import SmscodeClient
from smscode.errors import CancelTooEarlyError, ConflictError, NotFoundError
from sqlalchemy import select

from app.catalog.models import CatalogProduct, Country, Service
from app.ledger import audit
from tests.e2e.server import Server, running_server
from tests.factories import Factory

START = 100_000
ECONOMY = 3400  # the cheapest Indonesia/WhatsApp tier of the sandbox

BASE_ENV = {
    "SMSGATE_BOOTSTRAP_DEMO": "false",
    "SMSGATE_TOKEN_CACHE_SECONDS": "0",
    "SMSGATE_SANDBOX_SMS_DELAY_SECONDS": "1",
    "SMSGATE_SANDBOX_NO_SMS_RATE": "0",
    "SMSGATE_SANDBOX_CODELESS_RATE": "0",
    "SMSGATE_SANDBOX_MIN_CANCEL_SECONDS": "2",
    "SMSGATE_POLL_INTERVAL_SECONDS": "0.2",
}


SILENT_CANCEL_SECONDS = 5


def serve(database_url: str, cwd: Path, **overrides: str) -> Iterator[Server]:
    env = {**BASE_ENV, "DATABASE_URL": database_url, **overrides}
    with running_server(env, cwd) as srv:
        yield srv


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    yield from serve(database_url, tmp_path)


@pytest.fixture
def silent_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """Numbers never get an SMS, so one can be canceled once the cancel window passes (with
    the SMS 1 s after purchase, no order could ever be canceled on `server`). The window is
    5 s here: the test's early cancel must land inside it, two requests after the purchase,
    however slow the machine."""
    yield from serve(
        database_url, tmp_path, SMSGATE_SANDBOX_NO_SMS_RATE="1",
        SMSGATE_SANDBOX_MIN_CANCEL_SECONDS=str(SILENT_CANCEL_SECONDS),
    )  # fmt: skip


async def whatsapp_indonesia(factory: Factory) -> int:
    await factory.sandbox_catalog()
    async with factory.sessionmaker() as session:
        cp = await session.scalar(
            select(CatalogProduct.id)
            .join(Country, Country.id == CatalogProduct.country_id)
            .join(Service, Service.id == CatalogProduct.service_id)
            .where(Country.code == "ID", Service.code == "whatsapp")
        )
    assert cp is not None
    return int(cp)


async def assert_audit_ok(factory: Factory) -> None:
    async with factory.sessionmaker() as session:
        report = await audit.run(session)
    assert report.ok, report.problems


async def test_order_lifecycle_through_the_sdk(server: Server, factory: Factory) -> None:
    cp = await whatsapp_indonesia(factory)
    user = await factory.account(balance=START)

    def drive() -> None:
        with SmscodeClient(token=user.token, base_url=server.base_url) as c:
            created = c.v1.orders.create(
                {"catalog_product_id": cp, "max_price": 20000, "quantity": 1}
            )
            assert created.failed_count == 0 and len(created.orders) == 1
            assert created.idempotency_key  # the SDK sends one on every create
            order = created.orders[0]
            order_id = order["id"]
            assert order["status"] == "ACTIVE" and order["catalog_product_id"] == cp
            assert order.amount == ECONOMY and order["amount"] == ECONOMY
            assert re.fullmatch(r"\+628\d{9}", order["phone_number"])
            assert order.capabilities.can_cancel is False
            assert order.capabilities.cancel_available_at is not None
            assert c.v1.balance.get().balance == START - ECONOMY

            otp = c.v1.orders.wait_for_otp(order_id, timeout_ms=30_000, poll_interval_ms=200)
            assert re.fullmatch(r"\d{6}", otp.otp_code)
            assert otp.status == "OTP_RECEIVED"

            got = c.v1.orders.get(order_id)
            assert got["id"] == order_id and got["otp_code"] == otp.otp_code
            assert got["sms_revision"] == 1 and got["otp_received_at"] is not None
            assert got["phone_number"] == order["phone_number"] and got.amount == ECONOMY
            assert got.capabilities.can_finish is True and got.capabilities.can_resend is True
            assert got.capabilities.can_cancel is False

            listed = c.v1.orders.list(limit=10)
            assert [o["id"] for o in listed] == [order_id]
            assert [o["id"] for o in c.v1.orders.list(status="OTP_RECEIVED")] == [order_id]
            assert c.v1.orders.list(status="COMPLETED") == []

            active = c.v1.orders.active()
            assert [o["id"] for o in active] == [order_id]
            assert "amount" not in active[0].raw and "phone_number" not in active[0].raw
            assert active[0].amount is None

            resent = c.v1.orders.resend(order_id)
            assert resent.order_id == order_id and resent.resent is True
            assert resent.status == "OTP_RECEIVED"
            assert c.v1.orders.get(order_id).capabilities.can_resend is False
            with pytest.raises(ConflictError):
                c.v1.orders.resend(order_id)  # inside the 30 s cooldown

            second = c.v1.orders.wait_for_otp(
                order_id,
                after_code=otp.otp_code,
                after_revision=1,
                timeout_ms=30_000,
                poll_interval_ms=200,
            )
            assert re.fullmatch(r"\d{6}", second.otp_code)
            assert c.v1.orders.get(order_id)["sms_revision"] == 2

            finished = c.v1.orders.finish(order_id)
            assert finished.order_id == order_id and finished.status == "COMPLETED"
            done = c.v1.orders.get(order_id)
            assert done["status"] == "COMPLETED" and done.capabilities.can_reactivate is True
            assert c.v1.orders.active() == []
            with pytest.raises(ConflictError):
                c.v1.orders.finish(order_id)

            options = c.v1.orders.reactivate_options(order_id)
            assert options.cost == ECONOMY

            react = c.v1.orders.reactivate(order_id, max_price=ECONOMY)
            assert react.failed_count == 0 and len(react.orders) == 1
            child = react.orders[0]
            assert child["id"] != order_id and child["status"] == "ACTIVE"
            assert child["phone_number"] == order["phone_number"]
            assert child.amount == ECONOMY
            # The SDK's own idempotency key replays the same result, no second charge.
            replay = c.v1.orders.reactivate(
                order_id, max_price=ECONOMY, idempotency_key=react.idempotency_key
            )
            assert [o["id"] for o in replay.orders] == [child["id"]]
            with pytest.raises(ConflictError):
                c.v1.orders.reactivate(child["id"])  # ACTIVE, not COMPLETED

            child_otp = c.v1.orders.wait_for_otp(
                child["id"], timeout_ms=30_000, poll_interval_ms=200
            )
            assert re.fullmatch(r"\d{6}", child_otp.otp_code)
            assert [o["id"] for o in c.v1.orders.list()] == [child["id"], order_id]
            assert c.v1.balance.get().balance == START - 2 * ECONOMY

            with pytest.raises(NotFoundError):
                c.v1.orders.get(order_id + 1000)

    await asyncio.to_thread(drive)
    await assert_audit_ok(factory)


async def test_cancel_through_the_sdk(silent_server: Server, factory: Factory) -> None:
    cp = await whatsapp_indonesia(factory)
    user = await factory.account(balance=START)

    def drive() -> None:
        with SmscodeClient(token=user.token, base_url=silent_server.base_url) as c:
            created = c.v1.orders.create({"catalog_product_id": cp, "quantity": 1})
            order_id = created.orders[0]["id"]
            bought = time.monotonic()
            assert c.v1.balance.get().balance == START - ECONOMY

            with pytest.raises(CancelTooEarlyError) as early:
                c.v1.orders.cancel(order_id)
            assert early.value.http_status == 409
            assert early.value.details["cancel_available_at"]

            time.sleep(max(0.0, SILENT_CANCEL_SECONDS + 0.2 - (time.monotonic() - bought)))
            assert c.v1.orders.get(order_id).capabilities.can_cancel is True
            result = c.v1.orders.cancel(order_id)
            assert result.order_id == order_id
            assert result.status == "CANCELED"
            assert result.refund_amount == ECONOMY
            assert result.new_balance == START
            assert c.v1.balance.get().balance == START

            canceled = c.v1.orders.get(order_id)
            assert canceled["status"] == "CANCELED" and canceled["canceled_at"] is not None
            assert c.v1.orders.active() == []
            with pytest.raises(ConflictError):
                c.v1.orders.cancel(order_id)
            assert c.v1.balance.get().balance == START

    await asyncio.to_thread(drive)
    await assert_audit_ok(factory)
