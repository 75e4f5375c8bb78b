"""Admin authentication: the bearer token must equal SMSGATE_ADMIN_TOKEN.

No admin token configured means the admin API is off (403 for everyone). A missing or
malformed header is 401; an account token, or any other wrong token, is 403: the caller
is known to be not an operator, or is guessing. Compared in constant time.
"""

from fastapi import Request

from app.deps import bearer_token, runtime, token_matches
from app.errors import Forbidden


async def require_admin(request: Request) -> None:
    settings = runtime(request).settings
    token = bearer_token(request, "Missing admin token.")
    if settings.admin_token is None or not settings.admin_token.get_secret_value():
        raise Forbidden("The admin API is disabled: set SMSGATE_ADMIN_TOKEN.")
    if not token_matches(token, settings.admin_token):
        raise Forbidden("Admin token required.")
    request.state.admin = True
