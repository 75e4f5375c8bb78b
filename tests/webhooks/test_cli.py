"""`smsgate webhooks redeliver` as a real process: it queues replays the dispatcher sends."""

import asyncio
import json
import os
import sys

from tests.e2e.server import ROOT
from tests.webhooks.support import account_with_order, add_events, drain, queued, set_url


async def smsgate(database_url: str, *args: str) -> tuple[int, dict | None, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMSGATE_", "DATABASE"))}
    env.update({"DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "webhooks", "redeliver", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert b"Traceback" not in err
    return proc.returncode or 0, json.loads(out) if out.strip() else None, err.decode()


async def test_redeliver_by_event_and_by_account(
    client, factory, sessionmaker, database_url, dispatcher, allow_private, receivers
):
    receiver = receivers()
    user, order_id = await account_with_order(client, factory, sessionmaker)
    await set_url(client, user, receiver.url)
    ids = await add_events(sessionmaker, user.id, order_id, 2)
    await drain(dispatcher)

    code, out, _ = await smsgate(database_url, "--event", str(ids[1]))
    assert code == 0 and out == {"account_id": user.id, "queued": 1, "event_ids": [ids[1]]}
    assert await queued(sessionmaker, is_replay=True) == 1
    await drain(dispatcher)
    assert receiver.event_ids()[ids[1]] == 2

    # Nothing failed: nothing to redeliver.
    code, out, _ = await smsgate(database_url, "--account", str(user.id),
                                 "--since", "2020-01-01T00:00:00Z")  # fmt: skip
    assert code == 0 and out == {"account_id": user.id, "queued": 0, "event_ids": []}


async def test_bad_arguments_exit_2(database_url):
    for args in (["--event", "1", "--account", "1"], ["--account", "1"], [],
                 ["--account", "1", "--since", "yesterday"],
                 ["--account", "1", "--since", "2026-11-23T00:00:00"]):  # fmt: skip
        code, out, err = await smsgate(database_url, *args)
        assert code == 2 and out is None and err.startswith("error:"), args
    code, _, err = await smsgate(database_url, "--event", "999999")
    assert code == 1 and "No event" in err
