"""Admin authentication: the bearer token must equal SMSGATE_ADMIN_TOKEN.

No admin token configured means the admin API is off (403 for everyone). A missing or
malformed header is 401; an account token, or any other wrong token, is 403: the caller
is known to be not an operator, or is guessing. Compared in constant time.
"""

import hmac

from fastapi import Request

from app.config import Settings
from app.errors import Forbidden, Unauthorized


async def require_admin(request: Request) -> None:
    settings: Settings = request.app.state.settings
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        raise Unauthorized("Missing admin token.")
    expected = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if not expected:
        raise Forbidden("The admin API is disabled: set SMSGATE_ADMIN_TOKEN.")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise Forbidden("Admin token required.")
    request.state.admin = True
