"""Reading an account's webhook settings (all empty until one is set)."""

from typing import Any

from sqlalchemy import select

from app.db import Db
from app.kit.clock import rfc3339
from app.webhooks.models import WebhookConfig


async def get_config(session: Db, account_id: int) -> dict[str, Any]:
    row = (
        await session.execute(select(WebhookConfig).where(WebhookConfig.account_id == account_id))
    ).scalar_one_or_none()
    return {
        "webhook_url": row.url if row else None,
        "webhook_secret": row.secret if row else None,
        "webhook_disabled_at": rfc3339(row.disabled_at) if row else None,
        "webhook_disabled_reason": row.disabled_reason if row else None,
        "webhook_consecutive_failures": row.consecutive_failures if row else 0,
    }
