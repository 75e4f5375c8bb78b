"""Fixtures of the webhook tests: loopback receivers, private hosts allowed, a dispatcher."""

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from app.config import Settings
from app.workers.dispatcher import Dispatcher
from tests.webhooks.receiver import Receiver


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(**kwargs: object) -> Receiver:
        receiver = Receiver(**kwargs)  # type: ignore[arg-type]
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    """Loopback receivers over http, as SMSGATE_WEBHOOK_ALLOW_PRIVATE=true allows."""
    monkeypatch.setattr(settings, "webhook_allow_private", True)
    return settings


@pytest.fixture
async def dispatcher(app, settings: Settings) -> AsyncIterator[Dispatcher]:  # type: ignore[no-untyped-def]
    made = Dispatcher(app.state.runtime.engine, settings)
    yield made
    await made.close()
