"""The normalized taxonomy: the only exceptions that leave an adapter, whatever the family.

Every adapter maps transport failures and every provider code to one of these at its HTTP
boundary (`app.providers.http` plus the adapter's answer table); the guard and the services
decide on the class alone (retry, fail over, pause the provider, refuse the client).
"""


class UpstreamError(Exception):
    """Base of the normalized taxonomy. Nothing else leaves an adapter."""

    retry_after: float | None = None

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class Unavailable(UpstreamError):
    """Timeouts before sending, 5xx, garbage: nothing happened upstream. Retry or fail over."""


class Indeterminate(UpstreamError):
    """The request may have been carried out (a timeout after sending, a reset): look it up."""


class Rejected(UpstreamError):
    """The provider refused this request (no numbers, bad service): try the next candidate."""


class OutOfFunds(UpstreamError):
    """Our account at the provider cannot pay."""


class ConfigError(UpstreamError):
    """Wrong key or configuration: the provider must be disabled until fixed."""


class CancelTooEarly(UpstreamError):
    """The provider will not cancel yet (its minimum window)."""


class NotSupported(UpstreamError):
    """The provider does not offer this operation."""
