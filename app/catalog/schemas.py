"""Response shapes of the catalog, for the OpenAPI document (handlers build plain dicts)."""

from pydantic import BaseModel


class CountryRead(BaseModel):
    id: int
    code: str
    name: str
    dial_code: str
    emoji: str | None
    active: bool


class ServiceRead(BaseModel):
    id: int
    code: str
    name: str
    active: bool


class ProductRead(BaseModel):
    id: int
    name: str
    country_id: int
    platform_id: int
    available: int
    price: int
    active: bool
    catalog_product_id: int
    operator_id: int | None
    operator_name: str | None


class OperatorRead(BaseModel):
    operator_id: int | None
    code: str
    name: str | None
    local_name: str | None


class ExchangeRateRead(BaseModel):
    pair: str
    base_currency: str
    quote_currency: str
    rate: int
