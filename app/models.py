"""Every domain's models, imported in one place so Base.metadata is complete (Alembic, tests)."""

from app.accounts.models import Account
from app.auth.models import ApiToken
from app.catalog.models import (
    CatalogMapping,
    CatalogProduct,
    Country,
    ExchangeRate,
    Operator,
    Product,
    Provider,
    ProviderHealth,
    Service,
)
from app.db.engine import Base
from app.events.models import Event
from app.idempotency.models import IdempotencyKey
from app.ledger.models import LedgerEntry
from app.orders.models import Order, OrderSms
from app.ratelimit.models import RateLimitOverride
from app.webhooks.models import WebhookConfig, WebhookDelivery, WebhookOutbox

__all__ = [
    "Account",
    "ApiToken",
    "CatalogMapping",
    "Base",
    "CatalogProduct",
    "Event",
    "Country",
    "ExchangeRate",
    "IdempotencyKey",
    "LedgerEntry",
    "Operator",
    "Order",
    "OrderSms",
    "Product",
    "Provider",
    "ProviderHealth",
    "RateLimitOverride",
    "Service",
    "WebhookConfig",
    "WebhookDelivery",
    "WebhookOutbox",
]
