"""The built-in sandbox provider as an adapter, with a clock the test moves by hand."""

import random
import re
from decimal import Decimal

import pytest

from app.orders.otp import extract_code
from app.providers.base import (
    CancelTooEarly,
    Indeterminate,
    Money,
    Purchase,
    Rejected,
    Unavailable,
    UpstreamError,
    UpstreamState,
    UpstreamStatus,
)
from app.providers.sandbox import SandboxConfig, SandboxProvider, build_catalog

TIER = "ID:whatsapp:any:standard"  # 2,500 IDR base x 1.6 for WhatsApp
TIER_COST = 4_000
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class Clock:
    def __init__(self, start: float = 1_772_013_600.0) -> None:  # 2026-02-25T10:00:00Z
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def sandbox(clock: Clock, *, seed: int = 7, **settings: float) -> SandboxProvider:
    defaults: dict[str, float] = {"no_sms_rate": 0.0, "codeless_rate": 0.0}
    return SandboxProvider(
        SandboxConfig(**(defaults | settings)),  # type: ignore[arg-type]
        clock=clock,
        rng=random.Random(seed),
    )


@pytest.fixture
def provider(clock: Clock) -> SandboxProvider:
    """SMS after 5 s, cancel allowed after 120 s, every activation gets a code."""
    return sandbox(clock)


class TestBuy:
    @pytest.mark.parametrize(
        ("tier", "dial"),
        [
            ("ID:whatsapp:any:standard", "62"),
            ("ID:whatsapp:telkomsel:standard", "62"),
            ("TH:telegram:ais:standard", "66"),
            ("US:google:any:standard", "1"),
            ("GB:telegram:any:standard", "44"),
            ("IN:google:any:standard", "91"),
        ],
    )
    async def test_e164_number_of_the_tier_country(
        self, provider: SandboxProvider, tier: str, dial: str
    ) -> None:
        purchase = await provider.buy(tier, "ord-1")
        assert isinstance(purchase, Purchase)
        assert E164.match(purchase.phone_number), purchase.phone_number
        assert purchase.phone_number.startswith(f"+{dial}")
        assert len(purchase.phone_number) == 1 + len(dial) + 10
        assert purchase.upstream_order_id

    async def test_each_purchase_is_a_new_activation(self, provider: SandboxProvider) -> None:
        first = await provider.buy(TIER, "ord-1")
        second = await provider.buy(TIER, "ord-2")
        assert first.upstream_order_id != second.upstream_order_id
        assert first.phone_number != second.phone_number

    async def test_find_purchase_by_reference(self, provider: SandboxProvider) -> None:
        purchase = await provider.buy(TIER, "ord-42")
        assert await provider.find_purchase("ord-42") == purchase
        assert await provider.find_purchase("ord-43") is None

    async def test_unknown_tier_is_rejected(self, provider: SandboxProvider) -> None:
        with pytest.raises(Rejected):
            await provider.buy("ID:nosuch:any:standard", "ord-1")
        with pytest.raises(Rejected):
            await provider.buy("US:gojek:any:standard", "ord-2")  # not sold in the US
        assert await provider.find_purchase("ord-1") is None

    async def test_sold_out_tier_is_rejected(self, provider: SandboxProvider) -> None:
        provider.sold_out.add(TIER)
        with pytest.raises(Rejected):
            await provider.buy(TIER, "ord-1")
        assert await provider.find_purchase("ord-1") is None
        # Other tiers still sell.
        assert await provider.buy("ID:whatsapp:xl:standard", "ord-2")

    async def test_catalog_is_the_fixed_table(self, provider: SandboxProvider) -> None:
        catalog = await provider.catalog()
        assert catalog == build_catalog()
        costs = {o.upstream_key: o.cost for o in catalog.offers}
        assert costs[TIER] == TIER_COST
        assert costs["ID:whatsapp:any:economy"] == 2_800
        assert costs["ID:whatsapp:any:premium"] == 7_200
        assert "US:gojek:any:standard" not in costs
        assert await provider.balance() is None


class TestForcedFailures:
    @pytest.mark.parametrize(
        ("mode", "error"),
        [("error", Unavailable), ("garbage", Unavailable), ("no_stock", Rejected)],
    )
    async def test_nothing_bought(
        self, provider: SandboxProvider, mode: str, error: type[UpstreamError]
    ) -> None:
        provider.fail_next.append(mode)
        with pytest.raises(error):
            await provider.buy(TIER, "ord-1")
        assert await provider.find_purchase("ord-1") is None
        # One failure only: the next purchase goes through.
        assert provider.fail_next == []
        assert E164.match((await provider.buy(TIER, "ord-2")).phone_number)

    async def test_timeout_bought_but_the_answer_was_lost(
        self, provider: SandboxProvider, clock: Clock
    ) -> None:
        provider.fail_next.append("timeout")
        with pytest.raises(Indeterminate):
            await provider.buy(TIER, "ord-1")
        found = await provider.find_purchase("ord-1")
        assert found is not None
        assert found.phone_number.startswith("+628")
        clock.advance(10)
        status = await provider.status(found.upstream_order_id)
        assert status.state is UpstreamState.RECEIVED

    async def test_failures_apply_in_order(self, provider: SandboxProvider) -> None:
        provider.fail_next.extend(["no_stock", "error"])
        with pytest.raises(Rejected):
            await provider.buy(TIER, "ord-1")
        with pytest.raises(Unavailable):
            await provider.buy(TIER, "ord-2")
        assert await provider.buy(TIER, "ord-3")

    async def test_failure_rate_one_never_sells(self, clock: Clock) -> None:
        provider = sandbox(clock, seed=1234, failure_rate=1.0)
        seen: set[type[UpstreamError]] = set()
        for i in range(60):
            with pytest.raises((Rejected, Unavailable, Indeterminate)) as caught:
                await provider.buy(TIER, f"ord-{i}")
            seen.add(type(caught.value))
        assert seen == {Rejected, Unavailable, Indeterminate}


class TestStatus:
    async def test_waiting_then_received_with_a_code(
        self, provider: SandboxProvider, clock: Clock
    ) -> None:
        purchase = await provider.buy(TIER, "ord-1")
        assert await provider.status(purchase.upstream_order_id) == UpstreamStatus(
            UpstreamState.WAITING, ()
        )
        clock.advance(4.9)
        assert (await provider.status(purchase.upstream_order_id)).state is UpstreamState.WAITING
        clock.advance(0.1)
        status = await provider.status(purchase.upstream_order_id)
        assert status.state is UpstreamState.RECEIVED
        assert len(status.messages) == 1
        code = extract_code(status.messages[0])
        assert code is not None and re.fullmatch(r"\d{6}", code), status.messages[0]
        assert "WhatsApp" in status.messages[0]
        # Asking again changes nothing: the text is a function of the activation.
        assert await provider.status(purchase.upstream_order_id) == status

    async def test_every_text_carries_a_code(self, clock: Clock) -> None:
        provider = sandbox(clock, seed=3)
        shapes: set[str] = set()
        for i in range(80):
            purchase = await provider.buy("TH:telegram:any:standard", f"ord-{i}")
            clock.advance(5)
            (text,) = (await provider.status(purchase.upstream_order_id)).messages
            code = extract_code(text)
            assert code is not None and len(code) == 6, text
            # The texts hold no other digits: the whole code was found, split or not.
            assert re.sub(r"\D", "", text) == code, text
            shapes.add(re.sub(r"\d", "9", text))
        # All four templates (split code, <#>, G-, Indonesian) turn up in 80 activations.
        assert shapes == {
            "Your Telegram code: 999-999. Don't share this code with others.",
            "<#> Telegram: your verification code is 999999",
            "G-999999 is your Telegram verification code.",
            "999999 adalah kode verifikasi Telegram Anda.",
        }

    async def test_sms_delay_is_a_setting(self, clock: Clock) -> None:
        provider = sandbox(clock, sms_delay_seconds=60)
        purchase = await provider.buy(TIER, "ord-1")
        clock.advance(59)
        assert (await provider.status(purchase.upstream_order_id)).state is UpstreamState.WAITING
        clock.advance(1)
        assert (await provider.status(purchase.upstream_order_id)).state is UpstreamState.RECEIVED

    async def test_no_sms_fate(self, clock: Clock) -> None:
        provider = sandbox(clock, no_sms_rate=1.0)
        purchase = await provider.buy(TIER, "ord-1")
        clock.advance(1_200)
        assert await provider.status(purchase.upstream_order_id) == UpstreamStatus(
            UpstreamState.WAITING, ()
        )

    async def test_codeless_fate(self, clock: Clock) -> None:
        provider = sandbox(clock, codeless_rate=1.0)
        purchase = await provider.buy(TIER, "ord-1")
        clock.advance(5)
        status = await provider.status(purchase.upstream_order_id)
        assert status.state is UpstreamState.RECEIVED
        assert status.messages == ("Welcome to WhatsApp! Your account is almost ready.",)
        assert extract_code(status.messages[0]) is None

    @pytest.mark.parametrize(
        "garbage",
        ["", "garbage", "sbx-", "sbx-notatime-c-4000-whatsapp-abc", "sbx-1-c-4000-whatsapp"],
    )
    async def test_garbage_id_is_rejected(self, provider: SandboxProvider, garbage: str) -> None:
        with pytest.raises(Rejected):
            await provider.status(garbage)
        with pytest.raises(Rejected):
            await provider.cancel(garbage)
        with pytest.raises(Rejected):
            await provider.finish(garbage)
        with pytest.raises(Rejected):
            await provider.resend(garbage)
        with pytest.raises(Rejected):
            await provider.reactivation_cost(garbage)

    async def test_another_process_answers_from_the_id(self, clock: Clock) -> None:
        first = sandbox(clock, seed=1)
        second = sandbox(clock, seed=2)
        purchase = await first.buy(TIER, "ord-1")
        assert (await second.status(purchase.upstream_order_id)).state is UpstreamState.WAITING
        clock.advance(5)
        mine = await first.status(purchase.upstream_order_id)
        theirs = await second.status(purchase.upstream_order_id)
        assert theirs.state is UpstreamState.RECEIVED
        assert theirs == mine
        assert extract_code(theirs.messages[0]) is not None
        assert await second.find_purchase("ord-1") is None  # the reference lives with the buyer

    async def test_another_process_knows_a_no_sms_fate(self, clock: Clock) -> None:
        first = sandbox(clock, no_sms_rate=1.0)
        purchase = await first.buy(TIER, "ord-1")
        clock.advance(600)
        second = sandbox(clock)
        assert await second.status(purchase.upstream_order_id) == UpstreamStatus(
            UpstreamState.WAITING, ()
        )


class TestResend:
    async def test_a_new_message_after_the_delay(
        self, provider: SandboxProvider, clock: Clock
    ) -> None:
        purchase = await provider.buy(TIER, "ord-1")
        oid = purchase.upstream_order_id
        clock.advance(10)
        first = (await provider.status(oid)).messages
        assert len(first) == 1
        assert await provider.resend(oid) is True
        clock.advance(4)
        assert (await provider.status(oid)).messages == first
        clock.advance(1)
        status = await provider.status(oid)
        assert status.state is UpstreamState.RECEIVED
        assert len(status.messages) == 2
        assert status.messages[0] == first[0]
        assert extract_code(status.messages[1]) is not None
        await provider.resend(oid)
        clock.advance(5)
        assert len((await provider.status(oid)).messages) == 3

    async def test_resend_after_a_codeless_sms_brings_a_code(self, clock: Clock) -> None:
        provider = sandbox(clock, codeless_rate=1.0)
        purchase = await provider.buy(TIER, "ord-1")
        clock.advance(5)
        await provider.resend(purchase.upstream_order_id)
        clock.advance(5)
        messages = (await provider.status(purchase.upstream_order_id)).messages
        assert len(messages) == 2
        assert extract_code(messages[0]) is None
        assert extract_code(messages[1]) is not None

    def test_capabilities_follow_the_settings(self, clock: Clock) -> None:
        provider = sandbox(clock, min_cancel_seconds=90, rental_seconds=600)
        caps = provider.capabilities
        assert (caps.resend, caps.reactivate) == (True, True)
        assert (caps.min_cancel_seconds, caps.rental_seconds) == (90, 600)
        assert caps.resend_cooldown_seconds == 30
        assert provider.code == "sandbox"


class TestCancel:
    async def test_too_early_then_allowed(self, clock: Clock) -> None:
        provider = sandbox(clock, no_sms_rate=1.0)
        purchase = await provider.buy(TIER, "ord-1")
        oid = purchase.upstream_order_id
        clock.advance(119)
        with pytest.raises(CancelTooEarly):
            await provider.cancel(oid)
        assert (await provider.status(oid)).state is UpstreamState.WAITING
        clock.advance(1)
        await provider.cancel(oid)
        assert await provider.status(oid) == UpstreamStatus(UpstreamState.CANCELED, ())

    async def test_min_cancel_window_is_a_setting(self, clock: Clock) -> None:
        provider = sandbox(clock, no_sms_rate=1.0, min_cancel_seconds=0)
        purchase = await provider.buy(TIER, "ord-1")
        await provider.cancel(purchase.upstream_order_id)
        assert (await provider.status(purchase.upstream_order_id)).state is UpstreamState.CANCELED

    async def test_after_an_sms_is_rejected(self, provider: SandboxProvider, clock: Clock) -> None:
        purchase = await provider.buy(TIER, "ord-1")
        clock.advance(120)
        with pytest.raises(Rejected):
            await provider.cancel(purchase.upstream_order_id)
        assert (await provider.status(purchase.upstream_order_id)).state is UpstreamState.RECEIVED

    async def test_too_early_wins_over_an_sms(
        self, provider: SandboxProvider, clock: Clock
    ) -> None:
        purchase = await provider.buy(TIER, "ord-1")
        clock.advance(10)
        with pytest.raises(CancelTooEarly):
            await provider.cancel(purchase.upstream_order_id)

    async def test_canceled_number_cannot_be_reactivated(self, clock: Clock) -> None:
        provider = sandbox(clock, no_sms_rate=1.0)
        purchase = await provider.buy(TIER, "ord-1")
        clock.advance(120)
        await provider.cancel(purchase.upstream_order_id)
        with pytest.raises(Rejected):
            await provider.reactivation_cost(purchase.upstream_order_id)
        with pytest.raises(Rejected):
            await provider.reactivate(purchase.upstream_order_id, "ord-2")
        assert await provider.find_purchase("ord-2") is None


class TestFinish:
    async def test_finished_keeps_the_messages(
        self, provider: SandboxProvider, clock: Clock
    ) -> None:
        purchase = await provider.buy(TIER, "ord-1")
        clock.advance(5)
        received = await provider.status(purchase.upstream_order_id)
        await provider.finish(purchase.upstream_order_id)
        finished = await provider.status(purchase.upstream_order_id)
        assert finished.state is UpstreamState.FINISHED
        assert finished.messages == received.messages
        assert len(finished.messages) == 1


class TestReactivate:
    async def test_cost_is_the_tier_cost(self, provider: SandboxProvider, clock: Clock) -> None:
        purchase = await provider.buy(TIER, "ord-1")
        clock.advance(5)
        await provider.finish(purchase.upstream_order_id)
        assert await provider.reactivation_cost(purchase.upstream_order_id) == Money(
            Decimal(TIER_COST)
        )
        premium = await provider.buy("ID:whatsapp:any:premium", "ord-2")
        assert await provider.reactivation_cost(premium.upstream_order_id) == Money(Decimal(7_200))

    async def test_same_number_new_activation(
        self, provider: SandboxProvider, clock: Clock
    ) -> None:
        parent = await provider.buy(TIER, "ord-1")
        clock.advance(5)
        first_text = (await provider.status(parent.upstream_order_id)).messages[0]
        await provider.finish(parent.upstream_order_id)
        clock.advance(60)
        child = await provider.reactivate(parent.upstream_order_id, "ord-2")
        assert child.phone_number == parent.phone_number
        assert child.upstream_order_id != parent.upstream_order_id
        assert await provider.find_purchase("ord-2") == child
        assert await provider.reactivation_cost(child.upstream_order_id) == Money(
            Decimal(TIER_COST)
        )
        # The child's clock starts at reactivation, and its SMS carries a code of its own.
        assert (await provider.status(child.upstream_order_id)).state is UpstreamState.WAITING
        clock.advance(5)
        (text,) = (await provider.status(child.upstream_order_id)).messages
        assert extract_code(text) is not None
        assert text != first_text
        # The parent is untouched.
        assert (await provider.status(parent.upstream_order_id)).state is UpstreamState.FINISHED

    async def test_child_of_a_no_sms_parent_gets_an_sms(self, clock: Clock) -> None:
        provider = sandbox(clock, no_sms_rate=1.0)
        parent = await provider.buy(TIER, "ord-1")
        child = await provider.reactivate(parent.upstream_order_id, "ord-2")
        clock.advance(5)
        assert (await provider.status(child.upstream_order_id)).state is UpstreamState.RECEIVED

    async def test_another_process_reactivates_the_same_number(self, clock: Clock) -> None:
        # Known failure (bug in app/providers/sandbox.py, see the report): the phone number is
        # not in the id, so a process that did not buy it answers an empty phone number.
        first = sandbox(clock, seed=1)
        parent = await first.buy(TIER, "ord-1")
        clock.advance(5)
        second = sandbox(clock, seed=2)
        assert await second.reactivation_cost(parent.upstream_order_id) == Money(Decimal(TIER_COST))
        child = await second.reactivate(parent.upstream_order_id, "ord-2")
        assert child.phone_number == parent.phone_number
