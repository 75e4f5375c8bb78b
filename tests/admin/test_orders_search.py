"""Order search across accounts against a few thousand orders made in bulk."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.admin.support import bulk_orders
from tests.factories import Factory

N = 3_000
START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
async def orders(factory: Factory, sessionmaker) -> dict[str, Any]:
    await factory.sandbox_catalog()
    accounts = [(await factory.account()).id for _ in range(3)]
    await bulk_orders(sessionmaker, N, accounts, START)
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT o.id, o.account_id, o.status, o.product_id, o.catalog_product_id,"
                    " o.phone_number, o.upstream_order_id, o.created_at, o.finished_at,"
                    " p.code AS provider, c.code AS country, s.code AS service"
                    " FROM orders o JOIN providers p ON p.id = o.provider_id"
                    " JOIN catalog_products cp ON cp.id = o.catalog_product_id"
                    " JOIN countries c ON c.id = cp.country_id"
                    " JOIN services s ON s.id = cp.service_id ORDER BY o.id DESC"
                )
            )
        ).all()
    return {"accounts": accounts, "rows": [dict(r._mapping) for r in rows]}


async def walk(client: httpx.AsyncClient, admin: dict[str, str], query: str, limit: int = 500):
    ids: list[int] = []
    cursor = None
    pages = 0
    while True:
        url = f"/admin/orders?limit={limit}&{query}" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(url, headers=admin)
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [o["id"] for o in body["data"]]
        pages += 1
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            return ids, pages


async def test_every_filter_matches_a_reference_query(
    client: httpx.AsyncClient, admin: dict[str, str], orders: dict[str, Any]
) -> None:
    rows = orders["rows"]
    sample = rows[1234]
    t0 = START + timedelta(minutes=500)
    t1 = START + timedelta(minutes=900)
    cases: list[tuple[str, Any]] = [
        (f"account_id={orders['accounts'][1]}", lambda r: r["account_id"] == orders["accounts"][1]),
        ("status=completed", lambda r: r["status"] == "COMPLETED"),
        ("status=ACTIVE,expired", lambda r: r["status"] in {"ACTIVE", "EXPIRED"}),
        ("status=FAILED&status=CANCELED", lambda r: r["status"] in {"FAILED", "CANCELED"}),
        ("provider=SANDBOX", lambda r: r["provider"] == "sandbox"),
        (f"product_id={sample['product_id']}", lambda r: r["product_id"] == sample["product_id"]),
        (
            f"catalog_product_id={sample['catalog_product_id']}",
            lambda r: r["catalog_product_id"] == sample["catalog_product_id"],
        ),
        (f"country={sample['country'].lower()}", lambda r: r["country"] == sample["country"]),
        (f"service={sample['service']}", lambda r: r["service"] == sample["service"]),
        (f"upstream_order_id={sample['upstream_order_id']}", lambda r: r is sample),
        (
            f"created_from={t0.isoformat().replace('+00:00', 'Z')}"
            f"&created_to={t1.isoformat().replace('+00:00', 'Z')}",
            lambda r: t0 <= r["created_at"] < t1,
        ),
        (
            "finished_from=2026-03-01T10:00:00&finished_to=2026-03-01T20:00:00",
            lambda r: (
                r["finished_at"] is not None
                and START + timedelta(hours=10) <= r["finished_at"] < START + timedelta(hours=20)
            ),
        ),
        (
            f"account_id={orders['accounts'][0]}&status=CANCELED&service={sample['service']}",
            lambda r: (
                r["account_id"] == orders["accounts"][0]
                and r["status"] == "CANCELED"
                and r["service"] == sample["service"]
            ),
        ),
    ]
    for query, keep in cases:
        expected = [r["id"] for r in rows if keep(r)]
        assert expected, query  # every case must select something, or it proves nothing
        assert len(expected) < N or query.startswith("provider"), query
        ids, _ = await walk(client, admin, query)
        assert ids == expected, query

    phone = sample["phone_number"]
    spaced = f"+{phone[:2]} {phone[2:5]}-{phone[5:]}"
    found = await client.get("/admin/orders", params={"phone_number": spaced}, headers=admin)
    assert [o["id"] for o in found.json()["data"]] == [sample["id"]]
    one = found.json()["data"][0]
    assert one["provider"] == "sandbox" and one["country"] == sample["country"]
    assert one["account_name"].startswith("team-")
    none = await client.get("/admin/orders?country=ZZ", headers=admin)
    assert none.json()["data"] == [] and none.json()["meta"]["next_cursor"] is None


async def test_keyset_pages_cover_everything_once_and_ignore_new_orders(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    orders: dict[str, Any],
    sessionmaker,
) -> None:
    first = await client.get("/admin/orders?limit=400", headers=admin)
    page = first.json()
    seen = [o["id"] for o in page["data"]]
    # Orders arrive while the operator pages: later pages neither shift nor repeat.
    await bulk_orders(sessionmaker, 50, orders["accounts"], START, first=N + 1)
    cursor = page["meta"]["next_cursor"]
    while cursor:
        body = (await client.get(f"/admin/orders?limit=400&cursor={cursor}", headers=admin)).json()
        seen += [o["id"] for o in body["data"]]
        cursor = body["meta"]["next_cursor"]
    assert seen == [r["id"] for r in orders["rows"]]  # all N, newest first, no repeats
    fresh = (await client.get("/admin/orders?limit=50", headers=admin)).json()["data"]
    assert [o["id"] for o in fresh] == list(range(N + 50, N, -1))


@pytest.mark.parametrize(
    "query, field",
    [
        ("status=LOST", "status"),
        ("cursor=bm9wZQ", "cursor"),
        ("cursor=%%%", "cursor"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("account_id=abc", "account_id"),
        ("created_from=yesterday", "created_from"),
        ("created_from=2026-03-02T00:00:00Z&created_to=2026-03-01T00:00:00Z", "created_to"),
    ],
)
async def test_bad_filters_are_422(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str, query: str, field: str
) -> None:
    for path in ("/admin/orders", "/admin/orders/export.csv"):
        response = await client.get(f"{path}?{query}", headers=admin)
        if path.endswith("csv") and field in {"limit", "cursor"}:
            continue  # the export has no pages
        assert response.status_code == 422, (path, query, response.text)
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert field in [f["field"] for f in error["details"]["fields"]], error
