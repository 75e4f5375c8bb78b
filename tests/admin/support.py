"""Helpers of the admin tests: orders made in bulk with SQL (thousands in a second)."""

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

STATUSES = ("ACTIVE", "OTP_RECEIVED", "COMPLETED", "CANCELED", "EXPIRED", "FAILED")
TERMINAL = {"COMPLETED", "CANCELED", "EXPIRED", "FAILED"}

# Order i (1-based): account ids[i % len], product number i % products (by id), status
# STATUSES[i % 6], created `start + i minutes`, finished 5 minutes later when terminal,
# phone 62812 + i (7 digits), upstream id "up-i".
_BULK = text(
    """
    WITH a AS (SELECT CAST(:accounts AS bigint[]) AS ids, CAST(:start AS timestamptz) AS t0),
    p AS (
        SELECT row_number() OVER (ORDER BY id) - 1 AS k, id, catalog_product_id,
               provider_id, operator_id, price, cost
        FROM products
    ), n AS (SELECT count(*) AS products FROM products)
    INSERT INTO orders (account_id, product_id, catalog_product_id, provider_id, operator_id,
                        status, amount, cost, phone_number, upstream_order_id, created_at,
                        updated_at, finished_at)
    SELECT a.ids[1 + i % cardinality(a.ids)], p.id, p.catalog_product_id,
           p.provider_id, p.operator_id,
           (ARRAY['ACTIVE','OTP_RECEIVED','COMPLETED','CANCELED','EXPIRED','FAILED'])[1 + i % 6],
           p.price, p.cost, '62812' || lpad(i::text, 7, '0'), 'up-' || i,
           a.t0 + i * interval '1 minute', a.t0 + i * interval '1 minute',
           CASE WHEN i % 6 >= 2 THEN a.t0 + i * interval '1 minute' + interval '5 minutes' END
    FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i, n, a
    JOIN p ON true
    WHERE p.k = i % n.products
    """
)


async def bulk_orders(
    sessionmaker: async_sessionmaker[AsyncSession],
    count: int,
    accounts: list[int],
    start: datetime,
    first: int = 1,
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            _BULK,
            {
                "accounts": accounts,
                "start": start,
                "first": first,
                "last": first + count - 1,
            },
        )
