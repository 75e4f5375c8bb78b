"""The one input policy for integers that reach a bigint column, as Annotated types every
router uses: a path, query or body id is decimal digits (or a JSON integer) in 1..2^63-1.

`/v1/orders/1.0`, `+1` or ` 1` are refused like `{"id": 1.0}` in a body; a number past
bigint range is a 422 here rather than a 500 from the driver.
"""

from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator
from starlette.convertors import StringConvertor, register_url_convertor

MAX_ID = 2**63 - 1  # Postgres bigint
MAX_INT = 2**31 - 1  # Postgres integer: catalog ids
_MAX_DIGITS = 20  # one past bigint: longer is out of range, without a huge int() parse


def _decimal_digits(value: object) -> object:
    """Path and query values arrive as text: only plain digits are an integer (the lax
    parse would take "1.0", "+1" or " 1"). A JSON integer passes through as it is."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()):
            raise ValueError("must be an integer written in decimal digits")
        if len(value) > _MAX_DIGITS:
            raise ValueError(f"must be at most {MAX_ID}")
        return int(value)
    return value


_Digits = BeforeValidator(_decimal_digits)

PathId = Annotated[int, _Digits, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, _Digits, Query(ge=1, le=MAX_ID)]
AfterId = Annotated[int | None, _Digits, Query(ge=0, le=MAX_ID)]  # a cursor: 0 = from the start
QueryIntId = Annotated[int | None, _Digits, Query(ge=1, le=MAX_INT)]
RequiredIntId = Annotated[int, _Digits, Query(ge=1, le=MAX_INT)]


class _OrderSegment(StringConvertor):
    """`/orders/{order_id:order_id}` matches any segment but the sibling actions: GET
    /v1/orders/cancel is then the POST-only /cancel route's 405, not an id that fails to
    parse; any other text still reaches the id's validation (422)."""

    regex = r"(?!(?:active|create|cancel|finish|resend|reactivate)(?:/|$))[^/]+"


register_url_convertor("order_id", _OrderSegment())
