"""Every domain's models, imported in one place so Base.metadata is complete (Alembic, tests)."""

from app.auth.models import ApiToken
from app.catalog.models import (
    CatalogProduct,
    Country,
    ExchangeRate,
    Operator,
    Product,
    Provider,
    Service,
)
from app.db import Base
from app.ledger.models import Account, LedgerEntry

__all__ = [
    "Account",
    "ApiToken",
    "Base",
    "CatalogProduct",
    "Country",
    "ExchangeRate",
    "LedgerEntry",
    "Operator",
    "Product",
    "Provider",
    "Service",
]
