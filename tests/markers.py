"""Every test gets one layer marker, from what it uses, so a layer can run alone:

- `unit`: no database, no network, no process; `pytest -m unit` runs in seconds and never
  starts Postgres (a unit test that asks for it fails, see `pytest_fixture_setup`).
- `db`: uses the real Postgres (any fixture that depends on `database_url`).
- `e2e`: starts real processes (`smsgate serve`, `smsgate worker`, the CLI) or drives the
  gateway end to end over real HTTP; always `slow` as well.
- `slow`: takes seconds on its own (e2e, or marked in place, e.g. a 100k-row export).

The layer comes from the test's fixtures and its place, not from a list to keep up to
date: a test in tests/e2e/ or in a module of E2E_MODULES, or one marked
`@pytest.mark.e2e` in place, is e2e; else one that needs `database_url` is db; else unit.
"""

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

# Modules whose every test runs real processes (outside tests/e2e/ because they test one
# domain's behaviour across processes).
E2E_MODULES = {
    "ops/test_serve_processes.py",
    "webhooks/test_cli.py",
    "workers/test_worker_process.py",
}

# Fixtures only the database brings; the session's Postgres comes up lazily, when the
# first test that needs one of them is set up.
DATABASE_FIXTURES = {"database_url", "pg_server_url"}


def _is_e2e(item: pytest.Item) -> bool:
    if item.get_closest_marker("e2e") is not None:
        return True
    try:
        relative = item.path.resolve().relative_to(TESTS).as_posix()
    except ValueError:
        return False
    return relative.startswith("e2e/") or relative in E2E_MODULES


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        uses_db = bool(fixtures & DATABASE_FIXTURES)
        if _is_e2e(item):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)
        if uses_db:
            item.add_marker(pytest.mark.db)
        elif not _is_e2e(item):
            item.add_marker(pytest.mark.unit)


_running: list[pytest.Item] = []


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _running[:] = [item]


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[object], request: object) -> None:
    """A unit test that reaches the database at run time (getfixturevalue) is not one: say
    so, rather than let `-m unit` quietly start Postgres."""
    if fixturedef.argname not in DATABASE_FIXTURES or not _running:
        return
    item = _running[0]
    if item.get_closest_marker("unit") is not None:
        pytest.fail(
            f"{item.nodeid} is marked unit but asked for {fixturedef.argname}; "
            "request the database fixture in its signature so it is marked db",
            pytrace=False,
        )
