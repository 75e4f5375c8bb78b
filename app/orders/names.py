"""Names shown with orders and events (country, platform, operator), cached per process.

They change rarely (catalog syncs add rows, never rename ids), so a read-through cache
keeps them off every order query.
"""

from dataclasses import dataclass

from sqlalchemy import select

from app.catalog.models import CatalogProduct, Country, Operator, Service
from app.db.engine import Db


@dataclass(frozen=True, slots=True)
class UmbrellaNames:
    country: str
    platform: str


class CatalogNames:
    def __init__(self) -> None:
        self._umbrellas: dict[int, UmbrellaNames] = {}
        self._operators: dict[int, str] = {}

    async def load(self, session: Db, catalog_product_ids: set[int],
                   operator_ids: set[int | None]) -> None:  # fmt: skip
        missing = catalog_product_ids - self._umbrellas.keys()
        if missing:
            rows = await session.execute(
                select(CatalogProduct.id, Country.name, Service.name)
                .join(Country, Country.id == CatalogProduct.country_id)
                .join(Service, Service.id == CatalogProduct.service_id)
                .where(CatalogProduct.id.in_(missing))
            )
            for cp_id, country, platform in rows:
                self._umbrellas[cp_id] = UmbrellaNames(country, platform)
        missing_ops = {o for o in operator_ids if o is not None} - self._operators.keys()
        if missing_ops:
            ops = await session.execute(
                select(Operator.id, Operator.name).where(Operator.id.in_(missing_ops))
            )
            self._operators.update({op_id: name for op_id, name in ops})

    def umbrella(self, catalog_product_id: int) -> UmbrellaNames:
        return self._umbrellas.get(catalog_product_id, UmbrellaNames("", ""))

    def operator(self, operator_id: int | None) -> str | None:
        return None if operator_id is None else self._operators.get(operator_id)
