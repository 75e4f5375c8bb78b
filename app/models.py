"""Every domain's models, imported in one place so Base.metadata is complete (Alembic, tests)."""

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
from app.db import Base
from app.ledger.models import Account, LedgerEntry
from app.orders.models import IdempotencyKey, Order, OrderEvent, OrderSms
from app.ratelimit.models import RateLimitOverride
from app.webhooks.models import WebhookConfig, WebhookDelivery, WebhookOutbox

__all__ = [
    "Account",
    "ApiToken",
    "CatalogMapping",
    "Base",
    "CatalogProduct",
    "Country",
    "ExchangeRate",
    "IdempotencyKey",
    "LedgerEntry",
    "Operator",
    "Order",
    "OrderEvent",
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
