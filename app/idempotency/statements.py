"""The four statements on idempotency_keys, built once for both entry points.

Each is a SQLAlchemy statement (run through a session, inside the caller's transaction)
and the same statement compiled once for asyncpg (run straight on the driver by the
phased entry point, which sits on the create path: see app.kit.pg for why)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Delete, Insert, Select, Table, Update, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import asyncpg, insert

from app.idempotency.models import IdempotencyKey

_DIALECT = asyncpg.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class Statement:
    clause: Insert | Select[Any] | Update | Delete
    sql: str  # $1, $2, … for the driver
    order: tuple[str, ...]  # parameter names in $n order

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self.order]


def _built(clause: Insert | Select[Any] | Update | Delete) -> Statement:
    compiled = clause.compile(dialect=_DIALECT)
    return Statement(clause, str(compiled), tuple(compiled.positiontup or ()))


# The Core table, not the mapped class: plain statements, no ORM session synchronisation.
# Parameters are named b_*: a parameter named like a column would also be taken as that
# column's value by an INSERT or UPDATE run through SQLAlchemy.
_T = cast(Table, IdempotencyKey.__table__)
_K = _T.c
_IDENT = (
    _K.account_id == bindparam("b_account_id"),
    _K.scope == bindparam("b_scope"),
    _K.key == bindparam("b_key"),
)

CLAIM = _built(
    insert(_T)
    .values(
        account_id=bindparam("b_account_id"),
        scope=bindparam("b_scope"),
        key=bindparam("b_key"),
        request_hash=bindparam("b_request_hash"),
        created_at=bindparam("b_now"),
    )
    .on_conflict_do_nothing()
    .returning(_K.key)
)
EXISTING = _built(select(_K.request_hash, _K.response_status, _K.response_body).where(*_IDENT))
SAVE = _built(
    update(_T)
    .where(*_IDENT)
    .values(
        response_status=bindparam("b_status"),
        response_body=bindparam("b_body"),
        completed_at=bindparam("b_now"),
    )
)
PURGE = _built(delete(_T).where(_K.created_at < bindparam("b_before")))
