"""Creating orders: route, then for each number debit → buy (no transaction open) → activate,
or fail and refund. Money moves only in short transactions around the upstream call."""

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from app.db.engine import Db
from app.errors import (
    InsufficientBalance,
    NoOfferAvailable,
    ProviderError,
    ValidationFailed,
    field_error,
)
from app.kit import clock
from app.ledger import service as ledger_service
from app.ledger import subjects
from app.observability.logs import get_logger
from app.orders import repository
from app.orders.context import OrdersContext
from app.orders.models import LIVE_STATUSES, OrderStatus, Reconcile
from app.orders.routing import Candidate, Policy, RouteRequest, rank
from app.orders.schemas import OrderCreate
from app.providers.base import (
    ConfigError,
    Indeterminate,
    OutOfFunds,
    Provider,
    Purchase,
    UpstreamError,
)
from app.providers.calls import provider_call

log = get_logger(__name__)

ROUTED_ONLY = ("max_price", "min_price", "prefer_provider", "policy", "operator_id")


@dataclass(frozen=True, slots=True)
class Offer:
    candidate: Candidate
    catalog_product_id: int
    provider_id: int
    upstream_key: str
    cost: int
    upstream_cost: Decimal | None = None  # the provider's own price, in its currency
    upstream_currency: str | None = None


@dataclass
class CreateResult:
    orders: list[Any] = field(default_factory=list)
    failed_count: int = 0
    errors: list[str] = field(default_factory=list)
    out_of_balance: bool = False


def validate(body: OrderCreate) -> None:
    if (body.product_id is None) == (body.catalog_product_id is None):
        rule = "give exactly one of product_id, catalog_product_id"
        raise ValidationFailed(
            "Give exactly one of product_id or catalog_product_id.",
            details={
                "fields": [
                    {"field": "product_id", "message": rule},
                    {"field": "catalog_product_id", "message": rule},
                ]
            },
        )
    if body.product_id is not None:
        for name in ROUTED_ONLY:
            if getattr(body, name) is not None:
                raise field_error(name, "is valid only with catalog_product_id")
    if (
        body.min_price is not None
        and body.max_price is not None
        and body.min_price > body.max_price
    ):
        raise field_error("min_price", "must not exceed max_price")


async def cached_offers(ctx: OrdersContext, body: OrderCreate) -> list[Offer]:
    """resolve_offers, remembered for `offer_cache_seconds` per routing request."""
    key = tuple(body.model_dump(exclude={"quantity"}).items())
    offers: list[Offer] | None = ctx.offers_cache.get(key)
    if offers is None:
        async with ctx.autocommit.connect() as session:
            offers = await resolve_offers(ctx, session, body)
        if ctx.settings.offer_cache_seconds > 0:
            ctx.offers_cache[key] = offers
    return offers


async def resolve_offers(ctx: OrdersContext, session: Db, body: OrderCreate) -> list[Offer]:
    rows = await repository.offers(
        session, ctx.provider_codes, product_id=body.product_id,
        catalog_product_id=body.catalog_product_id,
    )  # fmt: skip
    if body.product_id is not None:
        if not rows:
            if not await repository.product_exists(session, body.product_id):
                raise field_error("product_id", f"no product {body.product_id}")
            raise NoOfferAvailable("That product is not available now.")
        return [_offer(rows[0])]
    assert body.catalog_product_id is not None
    if not rows and not await repository.catalog_product_exists(session, body.catalog_product_id):
        raise field_error("catalog_product_id", f"no catalog product {body.catalog_product_id}")
    policy = Policy(body.policy or Policy.CHEAPEST)
    counts: dict[int, tuple[int, int]] = {}
    if policy is Policy.BEST_SUCCESS and rows:
        since = clock.utcnow() - timedelta(hours=ctx.settings.success_window_hours)
        counts = await repository.success_counts(session, [r.product_id for r in rows], since)
    offers = {r.product_id: _offer(r, counts.get(r.product_id)) for r in rows}
    ranked = rank(
        [o.candidate for o in offers.values()],
        RouteRequest(
            policy, body.max_price, body.min_price, body.operator_id, body.prefer_provider
        ),
    )
    if not ranked:
        raise NoOfferAvailable()
    return [offers[c.product_id] for c in ranked]


def _offer(row: Any, counts: tuple[int, int] | None = None) -> Offer:
    successes, attempts = counts or (0, 0)
    return Offer(
        Candidate(row.product_id, row.provider_code, row.price, row.operator_id, row.available,
                  successes, attempts),
        row.catalog_product_id, row.provider_id, row.upstream_key, row.cost,
        row.upstream_cost, row.upstream_currency,
    )  # fmt: skip


async def create(ctx: OrdersContext, account_id: int, body: OrderCreate) -> CreateResult:
    validate(body)
    offers = await cached_offers(ctx, body)
    result = CreateResult()
    # Providers that cannot sell at all now (our key or funds); skipped for the rest of the
    # request. A refused or failed tier is tried again for the next number: stock moves.
    dead: set[str] = set()
    # Numbers are bought a few at a time, so quantity 100 is not 100 upstream round trips
    # in a row; once one fails for want of balance, the ones not started are not tried.
    in_flight = asyncio.Semaphore(ctx.settings.purchase_concurrency)

    async def one() -> Any | None:
        async with in_flight:
            if result.out_of_balance:
                return None
            return await buy_one(ctx, account_id, offers, dead, result)

    bought = await asyncio.gather(*(one() for _ in range(body.quantity)))
    result.orders = [order for order in bought if order is not None]
    result.failed_count = body.quantity - len(result.orders)
    if not result.orders:
        # Short of money only if nothing affordable was refused upstream: a client whose
        # balance covers just the provider that is down hears PROVIDER_ERROR, which is what
        # happened (and what the abuse guard never counts against it).
        if result.out_of_balance and not result.errors:
            raise InsufficientBalance()
        raise ProviderError(
            "The upstream provider could not supply a number.",
            details={"reasons": result.errors[-5:]} if result.errors else None,
        )
    return result


async def buy_one(
    ctx: OrdersContext,
    account_id: int,
    offers: list[Offer],
    dead: set[str],
    result: CreateResult,
    *,
    parent: Any | None = None,
) -> Any | None:
    short = False
    for offer in offers:
        if offer.candidate.provider_code in dead:
            continue
        provider = ctx.providers.get(offer.candidate.provider_code)
        if provider is None:
            continue
        if not ctx.usable(offer.candidate.provider_code):
            # Its breaker is open: no money moves for a call that would fail fast.
            result.errors.append(f"{offer.candidate.provider_code}: temporarily unavailable")
            dead.add(offer.candidate.provider_code)
            continue
        order_id = await debit_pending(ctx, account_id, offer, parent)
        if order_id is None:
            short = True  # too dear for the balance; a later, cheaper candidate may fit
            continue
        purchase: Purchase | None
        try:
            if parent is None:
                with provider_call(provider.code, "buy", order_id):
                    purchase = await provider.buy(offer.upstream_key, str(order_id))
            else:
                with provider_call(provider.code, "reactivate", order_id):
                    purchase = await provider.reactivate(parent.upstream_order_id, str(order_id))
        except Indeterminate as exc:
            purchase = await _look_up(provider, order_id)
            if purchase is None:
                await _leave_for_reconciler(ctx, order_id)
                result.errors.append(f"{offer.candidate.provider_code}: {exc.message}")
                # Each lost answer may be a number paid for upstream that cannot be found
                # again: not this provider again in this request.
                dead.add(offer.candidate.provider_code)
                continue
        except UpstreamError as exc:
            await fail_and_refund(ctx, order_id, f"{type(exc).__name__}: {exc.message}")
            result.errors.append(f"{offer.candidate.provider_code}: {exc.message}")
            if isinstance(exc, OutOfFunds | ConfigError):
                dead.add(offer.candidate.provider_code)
            continue
        except Exception:
            # An adapter bug: we cannot know whether it bought. The reconciler finds out.
            log.exception(
                "adapter failed unexpectedly", provider=offer.candidate.provider_code,
                order_id=order_id,
            )  # fmt: skip
            await _leave_for_reconciler(ctx, order_id)
            dead.add(offer.candidate.provider_code)
            continue
        order = await activate(ctx, order_id, provider, purchase, parent)
        if order is not None:
            return order
        result.errors.append(f"{offer.candidate.provider_code}: order {order_id} settled elsewhere")
    if short:
        result.out_of_balance = True
    return None


async def debit_pending(
    ctx: OrdersContext, account_id: int, offer: Offer, parent: Any | None
) -> int | None:
    """Phase one: take the price and record the PENDING order. None: balance too low."""
    now = clock.utcnow()
    async with ctx.autocommit.connect() as session:  # one atomic statement
        created = await repository.debit_and_insert_pending(
            session,
            account_id=account_id,
            product_id=offer.candidate.product_id,
            catalog_product_id=offer.catalog_product_id,
            provider_id=offer.provider_id,
            operator_id=offer.candidate.operator_id,
            parent_order_id=parent.id if parent is not None else None,
            amount=offer.candidate.price,
            cost=offer.cost,
            phone_number=parent.phone_number if parent is not None else None,
            now=now,
            reconcile_at=now + timedelta(seconds=ctx.settings.reconcile_after_seconds),
            upstream_cost=offer.upstream_cost,
            upstream_currency=offer.upstream_currency,
        )
    return None if created is None else created[0]


async def _look_up(provider: Provider, order_id: int) -> Purchase | None:
    try:
        with provider_call(provider.code, "find_purchase", order_id):
            return await provider.find_purchase(str(order_id))
    except UpstreamError:
        return None


async def _leave_for_reconciler(ctx: OrdersContext, order_id: int) -> None:
    """The client hears this number failed; if the upstream did sell it, give it back."""
    async with ctx.autocommit.connect() as session:
        await repository.mark_for_reconcile(session, order_id, Reconcile.RELEASE, clock.utcnow())


async def activate(
    ctx: OrdersContext, order_id: int, provider: Provider, purchase: Purchase, parent: Any | None
) -> Any | None:
    """PENDING → ACTIVE with the number.

    If the reconciler got to the order first (a very slow upstream): when it adopted this
    very purchase the order is ours and is returned; when it refunded the order, None, and
    the number is scheduled to be given back upstream."""
    now = clock.utcnow()
    caps = provider.capabilities
    async with ctx.autocommit.connect() as session:  # single statements
        order = await repository.activate(
            session,
            order_id,
            upstream_order_id=purchase.upstream_order_id,
            phone_number=parent.phone_number if parent is not None else purchase.phone_number,
            now=now,
            expires_at=now + timedelta(seconds=caps.rental_seconds),
            cancel_available_at=now + timedelta(seconds=caps.min_cancel_seconds),
            reactivatable=caps.reactivate,
            next_poll_at=now + timedelta(seconds=ctx.settings.poll_interval_seconds),
        )
        if order is None:
            settled = await repository.get(session, order_id)
            if (
                settled is not None
                and settled.status in LIVE_STATUSES
                and settled.upstream_order_id == purchase.upstream_order_id
            ):
                order = settled  # adopted by the reconciler: the same number, charged once
            else:
                await repository.schedule_release(
                    session, order_id, purchase.upstream_order_id, "cancel", now
                )
                return None
        await ctx.names.load(session, set(), {order.operator_id})
    log.info("order transition", order_id=order_id, account_id=order.account_id,
             status=str(order.status), provider=provider.code)  # fmt: skip
    return order


async def fail_and_refund(ctx: OrdersContext, order_id: int, reason: str) -> bool:
    """PENDING → FAILED and the price back, in one transaction; False if already settled."""
    async with ctx.engine.begin() as session:
        failed = await repository.fail_pending(session, order_id, reason, clock.utcnow())
        if failed is None:
            return False
        await ledger_service.refund(
            session, subjects.ORDER, order_id, failed.account_id, failed.amount
        )
    log.info("order transition", order_id=order_id, account_id=failed.account_id,
             status=OrderStatus.FAILED.value, reason=reason)  # fmt: skip
    return True
