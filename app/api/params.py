"""The one input policy for integers that reach a bigint column, as Annotated types every
router uses: a path, query or body id is decimal digits (or a JSON integer) in 1..2^63-1.

`/v1/orders/1.0`, `+1` or ` 1` are refused like `{"id": 1.0}` in a body; a number past
bigint range is a 422 here rather than a 500 from the driver.
"""

from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator, Field
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
# The bounds sit on the inner type: beside the validator they would reach OpenAPI as
# "ge"/"le" rather than "minimum"/"maximum".
_Bigint = Annotated[int, Field(ge=1, le=MAX_ID)]
_Cursor = Annotated[int, Field(ge=0, le=MAX_ID)]
_Integer = Annotated[int, Field(ge=1, le=MAX_INT)]

PathId = Annotated[_Bigint, _Digits, Path()]
QueryId = Annotated[_Bigint | None, _Digits, Query()]
AfterId = Annotated[_Cursor | None, _Digits, Query()]  # a cursor: 0 = from the start
QueryIntId = Annotated[_Integer | None, _Digits, Query()]
RequiredIntId = Annotated[_Integer, _Digits, Query()]


class _OrderSegment(StringConvertor):
    """`/orders/{order_id:order_id}` matches any segment but the sibling actions: GET
    /v1/orders/cancel is then the POST-only /cancel route's 405, not an id that fails to
    parse; any other text still reaches the id's validation (422)."""

    regex = r"(?!(?:active|create|cancel|finish|resend|reactivate)(?:/|$))[^/]+"


register_url_convertor("order_id", _OrderSegment())
