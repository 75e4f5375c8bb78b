"""Why a provider's purchases are held back, and how a recorded pause says so.

Shared by the guard (app.providers.guard), which keeps the reason of its own pauses, and by
what reads or writes `provider_health` (the table keeps the message, not the reason)."""

from enum import StrEnum


class PauseReason(StrEnum):
    """Why purchases are held back: decides how a probe may end the pause."""

    FUNDS = "funds"  # out of funds upstream: resume when the balance covers an offer
    KEY = "key"  # our key is refused: resume when a read with it is answered
    BREAKER = "breaker"  # transient failures: resume when a read is answered
    OPS = "ops"  # paused by hand: only ops (or the end of the pause) resume it


OPS_PAUSE_MESSAGE = "paused by ops"


def reason_of(message: str | None) -> PauseReason:
    """The reason behind a recorded pause, from its `last_error` (how another process's
    report says it: the table keeps the message, not the reason)."""
    if message is None:
        return PauseReason.BREAKER
    if message.startswith(OPS_PAUSE_MESSAGE):
        return PauseReason.OPS
    if "OutOfFunds" in message:
        return PauseReason.FUNDS
    if "ConfigError" in message:
        return PauseReason.KEY
    return PauseReason.BREAKER
