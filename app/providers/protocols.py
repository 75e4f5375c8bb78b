"""What an upstream can do, one small protocol per capability; an adapter implements the
ones it has and nothing else (OTPGet's activation handler: catalog, balance, activations;
a message sender: catalog-free, balance and messages).

Code that needs a capability asks `supports(provider, ActivationSource)` or takes
`sources(providers, ActivationSource)`, never a provider code. Every method raises only
`app.providers.errors.UpstreamError` subclasses and returns DTOs from `app.providers.dto`.
The guard (`app.providers.guard`) wraps every coroutine method of an adapter the same way,
so a new family is one protocol here and needs no code there; the only thing it must know
is which operations spend money (`PURCHASES`: an open breaker holds those back).

`code` is the stable identifier used in settings, in the providers table and by clients'
`prefer_provider`; `name` is for people. `reference` is ours (an order id, a rental id, a
message id): adapters that can pass it upstream do, so the `find_*` lookups can tell
whether a purchase whose answer was lost happened.
"""

from collections.abc import Mapping
from typing import Protocol, TypeVar, runtime_checkable

from app.providers.dto import (
    ActivationCapabilities,
    DeliveryReport,
    DeliveryState,
    EmailPurchase,
    EmailStatus,
    MessageQuote,
    Money,
    OutboundMessage,
    ProviderCatalog,
    Purchase,
    Rental,
    RentalCapabilities,
    RentalMessage,
    RentalRenewal,
    SenderCapabilities,
    SentMessage,
    UpstreamStatus,
)

# Operations that spend our money upstream, of every family. While a provider's breaker is
# open these fail fast; everything else (polls, cancels, releases of what we already bought)
# still goes out, so nothing bought is stranded by an outage.
PURCHASES = frozenset({"buy", "reactivate", "rent", "renew_rental", "buy_email", "send_message"})


@runtime_checkable
class Upstream(Protocol):
    code: str
    name: str


@runtime_checkable
class CatalogSource(Upstream, Protocol):
    async def catalog(self) -> ProviderCatalog:
        """Everything the provider sells now, in the provider's own ids and currency."""
        ...


@runtime_checkable
class BalanceSource(Upstream, Protocol):
    async def balance(self) -> Money | None:
        """Our balance at the provider, in its currency, when it tells."""
        ...


@runtime_checkable
class ActivationSource(Upstream, Protocol):
    """One number for one SMS code (OTPGet's handlers, smscode.gg, the sandbox)."""

    capabilities: ActivationCapabilities

    async def buy(self, upstream_key: str, reference: str) -> Purchase:
        """Buy one number of the tier `upstream_key`."""
        ...

    async def find_purchase(self, reference: str) -> Purchase | None:
        """The purchase made under `reference`, if the provider has it."""
        ...

    async def status(self, upstream_order_id: str) -> UpstreamStatus:
        """Where the activation is, with every SMS so far."""
        ...

    async def cancel(self, upstream_order_id: str) -> None:
        """Give the number back before any SMS (the provider refunds us)."""
        ...

    async def finish(self, upstream_order_id: str) -> None:
        """Release the number after use."""
        ...

    async def resend(self, upstream_order_id: str) -> bool:
        """Ask for another SMS; False when the provider does not support it."""
        ...

    async def reactivation_cost(self, upstream_order_id: str) -> Money:
        """What the provider charges to reactivate this number now; Rejected if it can't."""
        ...

    async def reactivate(self, upstream_order_id: str, reference: str) -> Purchase:
        """Another activation on the same number."""
        ...


@runtime_checkable
class RentalSource(Upstream, Protocol):
    """A number of ours for hours to months, receiving every SMS sent to it."""

    rental_capabilities: RentalCapabilities

    async def rental_stock(self, upstream_key: str) -> int:
        """Numbers available now for the rental offer `upstream_key` (live stock)."""
        ...

    async def rent(self, upstream_key: str, reference: str) -> Rental:
        """Rent one number of the offer `upstream_key`."""
        ...

    async def find_rental(self, reference: str) -> Rental | None:
        """The rental made under `reference`, if the provider can tell."""
        ...

    async def rental_messages(self, upstream_rental_id: str) -> tuple[RentalMessage, ...]:
        """Every SMS the number received so far, oldest first."""
        ...

    async def renew_rental(self, upstream_rental_id: str, duration_hours: int) -> RentalRenewal:
        """Extend the rental by `duration_hours`."""
        ...

    async def cancel_rental(self, upstream_rental_id: str) -> None:
        """Give the number back early; NotSupported unless `rental_capabilities.cancelable`."""
        ...


@runtime_checkable
class EmailSource(Upstream, Protocol):
    """A temporary address that receives one service's code."""

    async def buy_email(self, upstream_key: str, reference: str) -> EmailPurchase:
        """Buy one address of the offer `upstream_key`."""
        ...

    async def find_email(self, reference: str) -> EmailPurchase | None:
        """The address bought under `reference`, if the provider can tell."""
        ...

    async def email_status(self, upstream_email_id: str) -> EmailStatus:
        """Waiting, the code(s) received, or canceled upstream."""
        ...

    async def cancel_email(self, upstream_email_id: str) -> EmailStatus:
        """Cancel (refunded) — or, when a code had arrived, the completed status instead."""
        ...


@runtime_checkable
class MessageSender(Upstream, Protocol):
    """Outbound SMS: quote, send with our reference, read or receive the delivery status."""

    sender_capabilities: SenderCapabilities

    async def quote_message(self, destination: str, segments: int) -> MessageQuote:
        """The price of `segments` parts to `destination` (E.164), without sending."""
        ...

    async def send_message(self, message: OutboundMessage) -> SentMessage:
        """Send one message; a lost answer is Indeterminate (look it up, never resend)."""
        ...

    async def message_status(
        self, reference: str, upstream_message_id: str | None
    ) -> DeliveryState:
        """Where a message is; NotSupported unless `sender_capabilities.status_lookup`."""
        ...

    def parse_report(self, params: Mapping[str, str]) -> DeliveryReport:
        """A pushed delivery report (untrusted input) as a status; Rejected when malformed."""
        ...


class ActivationProvider(CatalogSource, BalanceSource, ActivationSource, Protocol):
    """What every adapter of today is: catalog, balance and activations."""


F = TypeVar("F", bound=Upstream)


def supports(provider: object, family: type[F]) -> bool:
    """Whether `provider` (an adapter, or an adapter in its guard) has the capability."""
    return isinstance(provider, family)


def sources(providers: Mapping[str, object], family: type[F]) -> dict[str, F]:
    """The providers that have the capability `family`, in their configured order."""
    return {code: p for code, p in providers.items() if isinstance(p, family)}
