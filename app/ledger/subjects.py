"""What money and events can be about: one `Subject` per kind of product.

A ledger row that pays for something points at it with a real foreign key: one nullable
column per kind (`ledger_entries.order_id` → orders, later `rental_id` → rentals, …). The
database guards every row with
- `ck_ledger_entries_amount_sign_matches_kind`: the kind is known and its amount has the
  right sign (debit < 0, refund > 0, settle ≠ 0, topup > 0, adjustment ≠ 0);
- `ck_ledger_entries_<column>_matches_kind`, one per subject: the column is set exactly for
  that subject's entry kinds. Together: exactly one subject column on a subject's entry,
  none on a top-up or an adjustment;
- `uq_ledger_entries_<column>_kind`, one per subject: each subject is debited, refunded
  and settled at most once.
`events` is built the same way (a `subject_kind` plus one FK column per kind, kept in step
by `ck_events_<column>_matches_subject_kind` and `ck_events_subject_kind_known`).

Adding a kind (say rentals): add its entry kinds to `EntryKind`, a `Subject` to `SUBJECTS`,
its nullable FK column to `LedgerEntry` and `Event`, and in its migration, after creating
its table, one line each way:

    upgrade:    for sql in subjects.add_subject_ddl(RENTAL, every=(ORDER, RENTAL)): op.execute(sql)
    downgrade:  for sql in subjects.drop_subject_ddl(RENTAL, rest=(ORDER,)): op.execute(sql)

with `RENTAL = Subject(...)` spelled out in the migration itself (a migration must not change
when the registry does later). Nothing here imports SQLAlchemy: the models, the migrations
and the audit all build their SQL from these values.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class EntryKind(StrEnum):
    """Every kind of ledger row. The strings are stored and shown (admin API, reports, CSV):
    never rename one."""

    TOPUP = "topup"
    ORDER_DEBIT = "order_debit"
    ORDER_REFUND = "order_refund"
    ADJUSTMENT = "adjustment"


# Kinds about no subject, and the sign their amount must have.
BASE_KINDS: dict[str, str] = {EntryKind.TOPUP: "> 0", EntryKind.ADJUSTMENT: "<> 0"}

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # spliced into SQL: identifiers and literals only


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str  # "order": events.subject_kind
    table: str  # "orders"
    column: str  # "order_id", in ledger_entries and in events
    debit: str  # entry kinds
    refund: str
    settle: str | None = None  # a later correction of the debit (messages), either sign
    # Audit: statuses in which the subject must have been refunded in full (and outside
    # which it must not be refunded at all); None when the kind has no such rule.
    refunded_statuses: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in (self.kind, self.table, self.column, *self.entry_kinds):
            if not _NAME.match(name):
                raise ValueError(f"not a plain SQL name: {name!r}")

    @property
    def entry_kinds(self) -> tuple[str, ...]:
        return (self.debit, self.refund) + ((self.settle,) if self.settle else ())

    def signs(self) -> dict[str, str]:
        signs = {self.debit: "< 0", self.refund: "> 0"}
        if self.settle:
            signs[self.settle] = "<> 0"
        return signs


ORDER = Subject(
    kind="order",
    table="orders",
    column="order_id",
    debit=EntryKind.ORDER_DEBIT,
    refund=EntryKind.ORDER_REFUND,
    refunded_statuses=("FAILED", "CANCELED", "EXPIRED"),
)

SUBJECTS: tuple[Subject, ...] = (ORDER,)
BY_ENTRY_KIND: dict[str, Subject] = {k: s for s in SUBJECTS for k in s.entry_kinds}
assert set(BY_ENTRY_KIND) | set(BASE_KINDS) == set(EntryKind), "EntryKind and SUBJECTS differ"


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


# --- CHECK bodies (the models use them with the registry, migrations with their own values) --


def entry_sign_check(every: Iterable[Subject] = SUBJECTS) -> str:
    signs = dict(BASE_KINDS)
    for subject in every:
        signs.update(subject.signs())
    return " OR ".join(f"(kind = '{kind}' AND amount {sign})" for kind, sign in signs.items())


def entry_subject_check(subject: Subject) -> str:
    return f"(kind IN ({_quoted(subject.entry_kinds)})) = ({subject.column} IS NOT NULL)"


def event_kind_check(every: Iterable[Subject] = SUBJECTS) -> str:
    return f"subject_kind IN ({_quoted(s.kind for s in every)})"


def event_subject_check(subject: Subject) -> str:
    return f"(subject_kind = '{subject.kind}') = ({subject.column} IS NOT NULL)"


# --- a new kind's migration ---------------------------------------------------------------


def add_subject_ddl(subject: Subject, every: tuple[Subject, ...]) -> list[str]:
    """The statements that hang a new kind's table (already created) on the ledger and the
    events; `every` is every subject once it exists, the new one included."""
    c, t = subject.column, subject.table
    return [
        f"ALTER TABLE ledger_entries ADD COLUMN {c} BIGINT"
        f" CONSTRAINT fk_ledger_entries_{c}_{t} REFERENCES {t} (id)",
        f"ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_entries_{c}_matches_kind"
        f" CHECK ({entry_subject_check(subject)})",
        *_replace_check("ledger_entries", "amount_sign_matches_kind", entry_sign_check(every)),
        f"CREATE UNIQUE INDEX uq_ledger_entries_{c}_kind ON ledger_entries ({c}, kind)"
        f" WHERE {c} IS NOT NULL",
        f"ALTER TABLE events ADD COLUMN {c} BIGINT"
        f" CONSTRAINT fk_events_{c}_{t} REFERENCES {t} (id)",
        f"ALTER TABLE events ADD CONSTRAINT ck_events_{c}_matches_subject_kind"
        f" CHECK ({event_subject_check(subject)})",
        *_replace_check("events", "subject_kind_known", event_kind_check(every)),
        f"CREATE INDEX ix_events_{c} ON events ({c})",
    ]


def drop_subject_ddl(subject: Subject, rest: tuple[Subject, ...]) -> list[str]:
    """The reverse of add_subject_ddl; fails (by its CHECKs) while rows of the kind exist."""
    c = subject.column
    return [
        *_replace_check("events", "subject_kind_known", event_kind_check(rest)),
        f"ALTER TABLE events DROP COLUMN {c}",  # its index, FK and CHECK go with it
        *_replace_check("ledger_entries", "amount_sign_matches_kind", entry_sign_check(rest)),
        f"ALTER TABLE ledger_entries DROP COLUMN {c}",
    ]


def _replace_check(table: str, name: str, body: str) -> list[str]:
    return [
        f"ALTER TABLE {table} DROP CONSTRAINT ck_{table}_{name}",
        f"ALTER TABLE {table} ADD CONSTRAINT ck_{table}_{name} CHECK ({body})",
    ]
