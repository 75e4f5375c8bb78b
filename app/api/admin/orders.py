"""/admin/orders: search across accounts, CSV export, one order's history."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response, StreamingResponse

from app.api.admin.params import Cursor, Id, Limit, utc
from app.api.envelope import ok
from app.api.params import QueryId, QueryIntId
from app.deps import OrdersDep, SessionDep
from app.kit import clock
from app.ops import order_export as export
from app.ops import order_history as history
from app.ops import order_search as search

router = APIRouter(prefix="/orders")

Text = Annotated[str | None, Query(max_length=128)]
When = Annotated[datetime | None, Query()]


@dataclass
class FilterParams:
    account_id: QueryId = None
    status: Annotated[list[str] | None, Query(max_length=10)] = None
    provider: Text = None
    product_id: QueryIntId = None
    catalog_product_id: QueryIntId = None
    country: Text = None
    service: Text = None
    phone_number: Text = None
    upstream_order_id: Text = None
    created_from: When = None
    created_to: When = None
    finished_from: When = None
    finished_to: When = None

    def to_filter(self) -> search.OrderFilter:
        return search.OrderFilter(
            account_id=self.account_id,
            statuses=search.parse_statuses(self.status),
            provider=self.provider,
            product_id=self.product_id,
            catalog_product_id=self.catalog_product_id,
            country=self.country,
            service=self.service,
            phone_number=self.phone_number,
            upstream_order_id=self.upstream_order_id,
            created_from=utc(self.created_from),
            created_to=utc(self.created_to),
            finished_from=utc(self.finished_from),
            finished_to=utc(self.finished_to),
        )


Filters = Annotated[FilterParams, Depends()]


@router.get("")
async def search_orders(
    filters: Filters, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """Orders of every account, newest first; page on with cursor = meta.next_cursor."""
    page = await search.search(session, filters.to_filter(), limit=limit, cursor=cursor)
    return ok(page.items, meta={"limit": page.limit, "next_cursor": page.next_cursor})


@router.get("/export.csv")
async def export_orders(filters: Filters, ctx: OrdersDep) -> Response:
    """The same search as CSV, streamed in batches (every match, no page limit)."""
    f = filters.to_filter()
    search.statement(f)  # bad ranges fail here, in the envelope, before streaming starts
    name = f"orders-{clock.utcnow().strftime('%Y%m%dT%H%M%SZ')}.csv"
    return StreamingResponse(
        export.csv_chunks(ctx.autocommit, f),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/{order_id}")
async def get_order_history(order_id: Id, session: SessionDep) -> Response:
    """One order with its transitions, SMS, money and (when recorded) webhook deliveries."""
    return ok(await history.order_history(session, order_id))
