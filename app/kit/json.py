"""A JSON response rendered by orjson (compact, UTC datetimes as RFC 3339)."""

from typing import Any

import orjson
from starlette.responses import JSONResponse as _StarletteJSONResponse


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)


class JSONResponse(_StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content)
