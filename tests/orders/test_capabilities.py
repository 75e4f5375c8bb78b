"""The capability block (spec/API.md, Orders): every field, from the order and the clock."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.orders.capabilities import OrderClockView, capabilities
from app.orders.models import OrderStatus

BOUGHT = datetime(2026, 2, 25, 10, 0, 0, tzinfo=UTC)
CANCEL_AT = BOUGHT + timedelta(minutes=2)  # 10:02:00
EXPIRES_AT = BOUGHT + timedelta(minutes=20)  # 10:20:00
CANCEL_AT_Z = "2026-02-25T10:02:00Z"


def at(minutes: float) -> datetime:
    return BOUGHT + timedelta(minutes=minutes)


def view(
    status: OrderStatus,
    sms_revision: int = 0,
    *,
    resend_at: datetime | None = None,
    cancel_at: datetime | None = CANCEL_AT,
    expires_at: datetime | None = EXPIRES_AT,
    reactivatable: bool = False,
) -> OrderClockView:
    return OrderClockView(status, sms_revision, expires_at, cancel_at, resend_at, reactivatable)


def block(
    *,
    finish: bool = False,
    resend: bool = False,
    cancel: bool = False,
    reactivate: bool = False,
    resend_at: str | None = None,
    cancel_at: str | None = None,
) -> dict[str, object]:
    return {
        "can_finish": finish,
        "can_resend": resend,
        "can_cancel": cancel,
        "can_replace": cancel,
        "can_reactivate": reactivate,
        "resend_available_at": resend_at,
        "cancel_available_at": cancel_at,
        "replace_available_at": cancel_at,
    }


A, R, C = OrderStatus.ACTIVE, OrderStatus.OTP_RECEIVED, OrderStatus.COMPLETED
RESEND_AT = at(6)  # 10:06:00, a cooldown after a resend asked at 10:05
RESEND_AT_Z = "2026-02-25T10:06:00Z"

CASES = [
    # --- ACTIVE, no SMS: the minimum-cancel window ----------------------------------------
    ("active-just-bought", view(A), at(0), block(cancel_at=CANCEL_AT_Z)),
    ("active-inside-window", view(A), at(1.99), block(cancel_at=CANCEL_AT_Z)),
    ("active-window-ends-exactly", view(A), CANCEL_AT, block(cancel=True)),
    ("active-past-window", view(A), at(3), block(cancel=True)),
    ("active-no-window", view(A, cancel_at=None), at(0), block(cancel=True)),
    ("active-no-expiry", view(A, expires_at=None), at(5), block(cancel=True)),
    # Expired but the poller has not moved it yet: still ACTIVE, cancel stays allowed.
    ("active-past-expiry", view(A), at(25), block(cancel=True)),
    # --- OTP_RECEIVED -----------------------------------------------------------------------
    ("otp-first-sms", view(R, 1), at(1), block(finish=True, resend=True)),
    ("otp-after-window", view(R, 1), at(3), block(finish=True, resend=True)),
    ("otp-several-sms", view(R, 3), at(10), block(finish=True, resend=True)),
    (
        "otp-resend-cooling-down",
        view(R, 1, resend_at=RESEND_AT),
        at(5.5),
        block(finish=True, resend_at=RESEND_AT_Z),
    ),
    (
        "otp-resend-cooldown-inside-cancel-window",
        view(R, 1, resend_at=at(1.5)),
        at(1),
        block(finish=True, resend_at="2026-02-25T10:01:30Z"),
    ),
    (
        "otp-resend-cooldown-ends-exactly",
        view(R, 2, resend_at=RESEND_AT),
        RESEND_AT,
        block(finish=True, resend=True),
    ),
    (
        "otp-resend-cooldown-clear",
        view(R, 2, resend_at=RESEND_AT),
        at(7),
        block(finish=True, resend=True),
    ),
    ("otp-expires-exactly", view(R, 1), EXPIRES_AT, block(finish=True)),
    ("otp-expired-not-yet-moved", view(R, 1), at(21), block(finish=True)),
    (
        "otp-expired-cooldown-clear",
        view(R, 2, resend_at=RESEND_AT),
        at(21),
        block(finish=True),
    ),
    ("otp-no-expiry", view(R, 1, expires_at=None), at(600), block(finish=True, resend=True)),
    # Reactivation is for COMPLETED orders only.
    ("otp-reactivatable", view(R, 1, reactivatable=True), at(3), block(finish=True, resend=True)),
    # --- terminal: everything false and null, except can_reactivate -----------------------
    ("completed", view(C, 1), at(10), block()),
    ("completed-reactivatable", view(C, 1, reactivatable=True), at(10), block(reactivate=True)),
    (
        "completed-reactivatable-after-expiry",
        view(C, 2, reactivatable=True),
        at(30),
        block(reactivate=True),
    ),
    (
        "completed-inside-windows",
        view(C, 1, resend_at=RESEND_AT, reactivatable=True),
        at(1),
        block(reactivate=True),
    ),
    ("completed-by-finish-early", view(C, 1, resend_at=RESEND_AT), at(5.5), block()),
    ("canceled", view(OrderStatus.CANCELED), at(3), block()),
    ("canceled-reactivatable", view(OrderStatus.CANCELED, reactivatable=True), at(3), block()),
    ("canceled-inside-window", view(OrderStatus.CANCELED), at(1), block()),
    ("expired", view(OrderStatus.EXPIRED), at(21), block()),
    ("expired-reactivatable", view(OrderStatus.EXPIRED, reactivatable=True), at(21), block()),
]


@pytest.mark.parametrize(
    ("order", "now", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_capability_block(
    order: OrderClockView, now: datetime, expected: dict[str, object]
) -> None:
    assert capabilities(order, now) == expected


class TestTimestamps:
    def test_times_are_rfc3339_utc_with_z_whatever_the_input_zone(self) -> None:
        wib = timezone(timedelta(hours=7))
        order = view(A, cancel_at=datetime(2026, 2, 25, 17, 2, 0, tzinfo=wib))
        result = capabilities(order, datetime(2026, 2, 25, 10, 1, 0, tzinfo=UTC))
        assert result["cancel_available_at"] == "2026-02-25T10:02:00Z"
        assert result["replace_available_at"] == "2026-02-25T10:02:00Z"

    def test_resend_time_in_another_zone(self) -> None:
        wib = timezone(timedelta(hours=7))
        order = view(R, 1, resend_at=datetime(2026, 2, 25, 17, 6, 0, tzinfo=wib))
        result = capabilities(order, at(5))
        assert result["resend_available_at"] == "2026-02-25T10:06:00Z"
        assert result["can_resend"] is False

    def test_fractional_seconds_are_dropped(self) -> None:
        order = view(A, cancel_at=CANCEL_AT + timedelta(microseconds=750_000))
        assert capabilities(order, at(1))["cancel_available_at"] == CANCEL_AT_Z

    def test_plain_string_status_as_read_from_the_database(self) -> None:
        order = OrderClockView("ACTIVE", 0, EXPIRES_AT, CANCEL_AT, None, False)
        assert capabilities(order, at(3)) == block(cancel=True)
        order = OrderClockView("COMPLETED", 1, EXPIRES_AT, None, None, True)
        assert capabilities(order, at(3)) == block(reactivate=True)


class TestInvariants:
    @pytest.mark.parametrize(("order", "now"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
    def test_replace_mirrors_cancel(self, order: OrderClockView, now: datetime) -> None:
        result = capabilities(order, now)
        assert result["can_replace"] == result["can_cancel"]
        assert result["replace_available_at"] == result["cancel_available_at"]
        # Cancel and finish never both apply: one needs an SMS, the other forbids it.
        assert not (result["can_cancel"] and result["can_finish"])
        # A time is announced only while the action waits for it.
        if result["cancel_available_at"] is not None:
            assert result["can_cancel"] is False
        if result["resend_available_at"] is not None:
            assert result["can_resend"] is False
