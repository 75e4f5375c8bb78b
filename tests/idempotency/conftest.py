import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.idempotency.service import Answer, Ask, request_hash


@pytest.fixture
def autocommit(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    engine = sessionmaker.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return engine.execution_options(isolation_level="AUTOCOMMIT")


OK = Answer(200, b'{"n":1}')


class Counted:
    """Work that counts its runs and answers `answer`."""

    def __init__(self, answer: Answer = OK) -> None:
        self.answer = answer
        self.runs = 0

    async def __call__(self) -> Answer:
        self.runs += 1
        return self.answer


def ask_for(account_id: int, key: str = "k-1", scope: str = "t:create", **body: object) -> Ask:
    return Ask(account_id, scope, key, request_hash(body or {"q": 1}))
