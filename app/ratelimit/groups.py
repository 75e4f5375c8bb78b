"""Endpoint groups of spec/API.md's rate-limit table, and which route belongs to which.

/v1 and /v2 routes map to the same groups and share one budget: /v2 is the same service
with money in USD, so a client must not double its allowance by mixing the two.
"""

import re
from enum import StrEnum

from app.config import Settings


class Group(StrEnum):
    CATALOG = "catalog"
    BALANCE = "balance"
    ORDER_READS = "order_reads"
    ORDER_CREATE = "order_create"
    ORDER_CANCEL = "order_cancel"
    ORDER_ACTIONS = "order_actions"
    WEBHOOK_CONFIG = "webhook_config"


# (method, route path without the /v1 or /v2 prefix) → group. Every /v1 and /v2 route must
# be here (a test checks): an unlisted route would have no limit.
ROUTES: dict[tuple[str, str], Group] = {
    ("GET", "/catalog/countries"): Group.CATALOG,
    ("GET", "/catalog/services"): Group.CATALOG,
    ("GET", "/catalog/products"): Group.CATALOG,
    ("GET", "/catalog/operators"): Group.CATALOG,
    ("GET", "/catalog/exchange-rate"): Group.CATALOG,
    ("GET", "/balance"): Group.BALANCE,
    ("GET", "/orders"): Group.ORDER_READS,
    ("GET", "/orders/active"): Group.ORDER_READS,
    ("GET", "/orders/{order_id}"): Group.ORDER_READS,
    ("GET", "/orders/{order_id}/reactivate-options"): Group.ORDER_READS,
    ("POST", "/orders/create"): Group.ORDER_CREATE,
    ("POST", "/orders/reactivate"): Group.ORDER_CREATE,
    ("POST", "/orders/cancel"): Group.ORDER_CANCEL,
    ("POST", "/orders/finish"): Group.ORDER_ACTIONS,
    ("POST", "/orders/resend"): Group.ORDER_ACTIONS,
    ("GET", "/webhook"): Group.WEBHOOK_CONFIG,
    ("PATCH", "/webhook"): Group.WEBHOOK_CONFIG,
    ("POST", "/webhook/test"): Group.WEBHOOK_CONFIG,
}


_STATIC = {key: group for key, group in ROUTES.items() if "{" not in key[1]}
_TEMPLATED = [
    (method, re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"), group)
    for (method, path), group in ROUTES.items()
    if "{" in path
]


def group_of(method: str, path: str) -> Group | None:
    """The group of a request path ("/v2/orders/42"), None when it has none."""
    if not path.startswith(("/v1/", "/v2/")):
        return None
    path = path[3:]
    group = _STATIC.get((method, path))
    if group is None:
        for route_method, pattern, candidate in _TEMPLATED:
            if route_method == method and pattern.match(path):
                return candidate
    return group


def default_limits(settings: Settings) -> dict[Group, int]:
    return {group: int(getattr(settings, f"rate_limit_{group.value}")) for group in Group}
