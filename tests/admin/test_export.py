"""CSV export of orders: streamed in batches, memory flat at 100,000 orders."""

import csv
import io
import time
import tracemalloc
from datetime import UTC, datetime

import httpx
import psutil
import pytest
from fastapi import FastAPI

from app.ops import order_export as export
from app.ops import order_search as search
from tests.admin.support import bulk_orders
from tests.factories import Factory

START = datetime(2026, 3, 1, tzinfo=UTC)


async def test_export_streams_the_search_as_csv(
    client: httpx.AsyncClient, factory: Factory, admin: dict[str, str], sessionmaker
) -> None:
    await factory.sandbox_catalog()
    accounts = [(await factory.account()).id for _ in range(2)]
    await bulk_orders(sessionmaker, 5_000, accounts, START)
    response = await client.get(
        f"/admin/orders/export.csv?account_id={accounts[0]}&status=completed", headers=admin
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected: list[dict[str, object]] = []
    url = f"/admin/orders?account_id={accounts[0]}&status=completed&limit=500"
    while url:
        page = (await client.get(url, headers=admin)).json()
        expected += page["data"]
        cursor = page["meta"]["next_cursor"]
        url = f"/admin/orders?account_id={accounts[0]}&status=completed&limit=500&cursor={cursor}"
        url = url if cursor else ""
    # Order i has account i % 2 and status i % 6: this account's COMPLETED are i ≡ 2 (mod 6).
    assert len(rows) == len(expected) == (5_000 - 2) // 6 + 1
    assert [int(r["id"]) for r in rows] == [o["id"] for o in expected]
    assert list(rows[0]) == list(search.FIELDS)
    assert rows[0]["phone_number"] == expected[0]["phone_number"]
    assert rows[0]["finished_at"].endswith("Z") and rows[0]["canceled_at"] == ""
    empty = await client.get("/admin/orders/export.csv?country=ZZ", headers=admin)
    assert empty.text.strip() == ",".join(search.FIELDS)


@pytest.mark.slow
async def test_export_of_100k_orders_keeps_memory_flat(
    app: FastAPI, factory: Factory, sessionmaker
) -> None:
    await factory.sandbox_catalog()
    accounts = [(await factory.account()).id for _ in range(3)]
    total = 100_000
    await bulk_orders(sessionmaker, total, accounts, START)
    engine = app.state.runtime.orders.autocommit

    began = time.perf_counter()
    untraced = 0
    async for chunk in export.csv_chunks(engine, search.OrderFilter()):
        untraced += len(chunk)
    print(f"\nexport untraced: {untraced / 1e6:.1f} MB in {time.perf_counter() - began:.2f} s")

    process = psutil.Process()
    rss_before = process.memory_info().rss
    tracemalloc.start()
    try:
        began = time.perf_counter()
        lines = 0
        size = 0
        held: list[int] = []  # traced bytes in use after each chunk
        async for chunk in export.csv_chunks(engine, search.OrderFilter()):
            lines += chunk.count(b"\n")
            size += len(chunk)
            held.append(tracemalloc.get_traced_memory()[0])
        elapsed = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = process.memory_info().rss - rss_before
    print(
        f"\nexport: {total} orders, {size / 1e6:.1f} MB CSV in {elapsed:.2f} s (traced); "
        f"traced peak {peak / 1e6:.2f} MB; RSS growth {rss_growth / 1e6:.1f} MB; "
        f"in use after the first/last chunk {held[1] / 1e6:.2f}/{held[-1] / 1e6:.2f} MB"
    )
    assert lines == total + 1
    assert size > 10_000_000
    # Flat: what is held after the last of 50 batches is what was held after the first few.
    early = max(held[1:6])
    assert max(held[len(held) // 2 :]) < early + 1_000_000, (early, held[-5:])
    # Bounded: the whole CSV as one string alone would be `size`; the rows as Python
    # objects several times that. The stream peaks at about one batch.
    assert peak < 10_000_000 and peak < size / 2, peak
