"""The ledger against real Postgres: balance == sum(ledger), no overdraft even under
concurrency, and the database's own guards (CHECK, unique debit per order)."""

import asyncio

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Account
from app.catalog import sync
from app.catalog.models import Product
from app.catalog.pricing import PricingRule
from app.db.engine import make_engine, make_sessionmaker
from app.errors import Conflict, InsufficientBalance, NotFound, ValidationFailed
from app.ledger import service as ledger_service
from app.ledger.models import EntryKind, LedgerEntry
from app.ledger.service import MAX_AMOUNT
from app.orders.models import Order, OrderStatus
from app.providers.base import CountryInfo, Offer, ProviderCatalog, ServiceInfo


async def new_account(sessionmaker, name: str = "acme", balance: int = 0) -> int:
    async with sessionmaker() as session, session.begin():
        return await ledger_service.open_account(session, name, balance)


async def new_orders(sessionmaker, account_id: int, count: int) -> list[int]:
    """Bare order rows to hang order debits and refunds on (ledger_entries.order_id is a FK)."""
    one_offer = ProviderCatalog(
        (CountryInfo("ID", "Indonesia", "62"),),
        (ServiceInfo("whatsapp", "WhatsApp"),),
        (),
        (Offer("ID:whatsapp:std", "ID", "whatsapp", None, 80, 10),),
    )
    async with sessionmaker() as session, session.begin():
        provider_id = await sync.ensure_provider(session, "ledgertest", "Ledger test")
        await sync.sync_catalog(session, provider_id, "ledgertest", one_offer, PricingRule())
        product = (await session.execute(select(Product.id, Product.catalog_product_id))).one()
        ids = await session.scalars(
            insert(Order)
            .values(
                [
                    {
                        "account_id": account_id,
                        "product_id": product.id,
                        "catalog_product_id": product.catalog_product_id,
                        "provider_id": provider_id,
                        "status": OrderStatus.ACTIVE.value,
                        "amount": 100,
                        "cost": 80,
                    }
                    for _ in range(count)
                ]
            )
            .returning(Order.id)
        )
        return sorted(ids)


async def post(sessionmaker, account_id: int, kind: EntryKind, amount: int, **kw):
    async with sessionmaker() as session, session.begin():
        return await ledger_service.post(session, account_id, kind, amount, **kw)


async def balance_and_sum(sessionmaker, account_id: int) -> tuple[int, int]:
    async with sessionmaker() as session:
        balance = await session.scalar(select(Account.balance).where(Account.id == account_id))
        total = await session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.account_id == account_id
            )
        )
    return int(balance), int(total)


async def entries(sessionmaker, account_id: int) -> list[LedgerEntry]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(LedgerEntry).where(LedgerEntry.account_id == account_id).order_by(LedgerEntry.id)
        )
        return list(rows)


class TestPost:
    async def test_balance_follows_every_entry(self, sessionmaker):
        account_id = await new_account(sessionmaker)
        first, second = await new_orders(sessionmaker, account_id, 2)
        steps = [
            (EntryKind.TOPUP, 1_000, None),
            (EntryKind.ORDER_DEBIT, -300, first),
            (EntryKind.ORDER_REFUND, 300, first),
            (EntryKind.ORDER_DEBIT, -450, second),
            (EntryKind.ADJUSTMENT, -50, None),
            (EntryKind.ADJUSTMENT, 25, None),
        ]
        expected = 0
        for kind, amount, order_id in steps:
            expected += amount
            posted = await post(sessionmaker, account_id, kind, amount, subject_id=order_id)
            assert posted.balance == expected and posted.amount == amount
            assert posted.account_id == account_id
        assert await balance_and_sum(sessionmaker, account_id) == (525, 525)
        rows = await entries(sessionmaker, account_id)
        assert [r.balance_after for r in rows] == [1_000, 700, 1_000, 550, 500, 525]
        assert [r.kind for r in rows] == [k.value for k, _, _ in steps]
        assert [r.order_id for r in rows] == [o for _, _, o in steps]

    async def test_entry_id_is_returned(self, sessionmaker):
        account_id = await new_account(sessionmaker)
        posted = await post(sessionmaker, account_id, EntryKind.TOPUP, 10, reference="pay-1")
        rows = await entries(sessionmaker, account_id)
        assert [(r.id, r.reference) for r in rows] == [(posted.entry_id, "pay-1")]

    async def test_debit_to_exactly_zero_is_allowed(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=500)
        [order_id] = await new_orders(sessionmaker, account_id, 1)
        posted = await post(
            sessionmaker, account_id, EntryKind.ORDER_DEBIT, -500, subject_id=order_id
        )
        assert posted.balance == 0
        assert await balance_and_sum(sessionmaker, account_id) == (0, 0)

    async def test_debit_beyond_balance_changes_nothing(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=500)
        [order_id] = await new_orders(sessionmaker, account_id, 1)
        before = await entries(sessionmaker, account_id)
        async with sessionmaker() as session, session.begin():
            with pytest.raises(InsufficientBalance):
                await ledger_service.post(
                    session, account_id, EntryKind.ORDER_DEBIT, -501, subject_id=order_id
                )
            # The transaction is still usable: nothing half-applied to roll back.
            assert await ledger_service.get_balance(session, account_id) == 500
        assert await balance_and_sum(sessionmaker, account_id) == (500, 500)
        assert [r.id for r in await entries(sessionmaker, account_id)] == [r.id for r in before]

    async def test_unknown_account_is_not_found(self, sessionmaker):
        with pytest.raises(NotFound):
            await post(sessionmaker, 999_999, EntryKind.TOPUP, 100)
        with pytest.raises(NotFound):
            await post(sessionmaker, 999_999, EntryKind.ADJUSTMENT, -100)

    @pytest.mark.parametrize("amount", [0, MAX_AMOUNT + 1, -(MAX_AMOUNT + 1)])
    async def test_bad_amount(self, sessionmaker, amount):
        account_id = await new_account(sessionmaker, balance=100)
        with pytest.raises(ValidationFailed):
            await post(sessionmaker, account_id, EntryKind.ADJUSTMENT, amount)
        assert await balance_and_sum(sessionmaker, account_id) == (100, 100)

    async def test_credit_beyond_max_amount_is_refused_but_max_is_fine(self, sessionmaker):
        account_id = await new_account(sessionmaker)
        posted = await post(sessionmaker, account_id, EntryKind.TOPUP, MAX_AMOUNT)
        assert posted.balance == MAX_AMOUNT


class TestTopup:
    async def test_topup_credits(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=100)
        async with sessionmaker() as session, session.begin():
            posted = await ledger_service.credit(session, account_id, 900, "invoice-7")
        assert posted.balance == 1_000
        last = (await entries(sessionmaker, account_id))[-1]
        assert (last.kind, last.amount, last.reference) == ("topup", 900, "invoice-7")

    @pytest.mark.parametrize("amount", [0, -1, -1_000])
    async def test_topup_must_be_positive(self, sessionmaker, amount):
        account_id = await new_account(sessionmaker, balance=100)
        async with sessionmaker() as session, session.begin():
            with pytest.raises(ValidationFailed):
                await ledger_service.credit(session, account_id, amount, None)
        assert await balance_and_sum(sessionmaker, account_id) == (100, 100)

    async def test_get_balance_of_unknown_account(self, sessionmaker):
        async with sessionmaker() as session:
            with pytest.raises(NotFound):
                await ledger_service.get_balance(session, 424242)


class TestDatabaseGuards:
    async def test_check_constraint_refuses_negative_balance_on_raw_update(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=100)
        with pytest.raises(IntegrityError, match="balance_not_negative"):
            async with sessionmaker() as session, session.begin():
                await session.execute(
                    update(Account).where(Account.id == account_id).values(balance=-1)
                )
        assert await balance_and_sum(sessionmaker, account_id) == (100, 100)

    async def test_check_constraint_refuses_raw_sql_too(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=100)
        with pytest.raises(IntegrityError):
            async with sessionmaker() as session, session.begin():
                await session.execute(
                    text("UPDATE accounts SET balance = balance - 101 WHERE id = :id"),
                    {"id": account_id},
                )

    async def test_second_debit_of_one_order_is_rejected(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=1_000)
        [order_id] = await new_orders(sessionmaker, account_id, 1)
        await post(sessionmaker, account_id, EntryKind.ORDER_DEBIT, -100, subject_id=order_id)
        with pytest.raises(IntegrityError, match="uq_ledger_entries_order_id_kind"):
            await post(sessionmaker, account_id, EntryKind.ORDER_DEBIT, -100, subject_id=order_id)
        # The failed transaction rolled back its balance change with it.
        assert await balance_and_sum(sessionmaker, account_id) == (900, 900)

    async def test_one_refund_per_order_but_debit_and_refund_coexist(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=1_000)
        [order_id] = await new_orders(sessionmaker, account_id, 1)
        await post(sessionmaker, account_id, EntryKind.ORDER_DEBIT, -100, subject_id=order_id)
        await post(sessionmaker, account_id, EntryKind.ORDER_REFUND, 100, subject_id=order_id)
        with pytest.raises(IntegrityError, match="uq_ledger_entries_order_id_kind"):
            await post(sessionmaker, account_id, EntryKind.ORDER_REFUND, 100, subject_id=order_id)
        assert await balance_and_sum(sessionmaker, account_id) == (1_000, 1_000)

    async def test_entries_without_order_are_not_unique_constrained(self, sessionmaker):
        account_id = await new_account(sessionmaker)
        await post(sessionmaker, account_id, EntryKind.TOPUP, 100)
        await post(sessionmaker, account_id, EntryKind.TOPUP, 100)
        assert await balance_and_sum(sessionmaker, account_id) == (200, 200)

    @pytest.mark.parametrize(
        ("kind", "amount", "with_order", "constraint"),
        [
            (EntryKind.TOPUP, -5, False, "amount_sign_matches_kind"),
            (EntryKind.ADJUSTMENT, 0, False, "amount_sign_matches_kind"),
            (EntryKind.ORDER_DEBIT, 5, True, "amount_sign_matches_kind"),
            (EntryKind.ORDER_DEBIT, -5, False, "order_id_matches_kind"),
            (EntryKind.ORDER_REFUND, -5, True, "amount_sign_matches_kind"),
            (EntryKind.ORDER_REFUND, 5, False, "order_id_matches_kind"),
            (EntryKind.TOPUP, 5, True, "order_id_matches_kind"),
            (EntryKind.ADJUSTMENT, 5, True, "order_id_matches_kind"),
            ("order_settle", 5, True, "amount_sign_matches_kind"),  # not a kind (yet)
        ],
    )
    async def test_row_must_match_its_kind(
        self, sessionmaker, kind, amount, with_order, constraint
    ):
        """The database's own guards, past the service's checks (a raw INSERT)."""
        account_id = await new_account(sessionmaker, balance=100)
        order_id = (await new_orders(sessionmaker, account_id, 1))[0] if with_order else None
        with pytest.raises(IntegrityError, match=constraint):
            async with sessionmaker() as session, session.begin():
                await session.execute(
                    insert(LedgerEntry).values(account_id=account_id, kind=str(kind),
                                               amount=amount, balance_after=100,
                                               order_id=order_id)
                )  # fmt: skip
        assert await balance_and_sum(sessionmaker, account_id) == (100, 100)

    async def test_post_of_a_subject_kind_without_subject_is_refused(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=100)
        with pytest.raises(IntegrityError, match="order_id_matches_kind"):
            await post(sessionmaker, account_id, EntryKind.ORDER_DEBIT, -5)
        with pytest.raises(ValueError, match="about no subject"):
            await post(sessionmaker, account_id, EntryKind.TOPUP, 5, subject_id=1)
        assert await balance_and_sum(sessionmaker, account_id) == (100, 100)


class TestConcurrentDebits:
    async def test_forty_debits_of_100_against_1000_never_overdraw(self, settings):
        # A dedicated pool large enough that all 40 transactions are open at once.
        engine = make_engine(
            settings.database_url, settings.model_copy(update={"db_pool_size": 45})
        )
        sm = make_sessionmaker(engine)
        try:
            account_id = await new_account(sm, balance=1_000)
            order_ids = await new_orders(sm, account_id, 40)
            all_open = asyncio.Barrier(40)

            async def debit(order_id: int) -> str:
                async with sm() as session, session.begin():
                    await session.execute(select(1))  # holds a connection and a transaction
                    await all_open.wait()
                    try:
                        await ledger_service.post(
                            session, account_id, EntryKind.ORDER_DEBIT, -100, subject_id=order_id
                        )
                    except InsufficientBalance:
                        return "refused"
                    return "debited"

            outcomes = await asyncio.wait_for(
                asyncio.gather(*(debit(order_id) for order_id in order_ids)), timeout=60
            )
            assert outcomes.count("debited") == 10
            assert outcomes.count("refused") == 30
            assert await balance_and_sum(sm, account_id) == (0, 0)
            rows = await entries(sm, account_id)
            debits = [r for r in rows if r.kind == "order_debit"]
            assert len(debits) == 10
            assert sorted(r.balance_after for r in debits) == list(range(0, 1_000, 100))
            assert sum(r.amount for r in rows) == 0
        finally:
            await engine.dispose()


class TestCreateAccount:
    async def test_opening_balance_is_a_ledger_topup(self, sessionmaker):
        account_id = await new_account(sessionmaker, balance=5_000)
        rows = await entries(sessionmaker, account_id)
        assert [(r.kind, r.amount, r.balance_after, r.reference) for r in rows] == [
            ("topup", 5_000, 5_000, "opening balance")
        ]
        assert await balance_and_sum(sessionmaker, account_id) == (5_000, 5_000)

    async def test_zero_opening_balance_writes_no_entry(self, sessionmaker):
        account_id = await new_account(sessionmaker)
        assert await entries(sessionmaker, account_id) == []
        assert await balance_and_sum(sessionmaker, account_id) == (0, 0)

    async def test_name_is_trimmed(self, sessionmaker):
        account_id = await new_account(sessionmaker, name="  acme  ")
        async with sessionmaker() as session:
            name = await session.scalar(select(Account.name).where(Account.id == account_id))
        assert name == "acme"

    async def test_duplicate_name_is_conflict(self, sessionmaker):
        await new_account(sessionmaker, name="acme")
        with pytest.raises(Conflict):
            await new_account(sessionmaker, name="acme")
        with pytest.raises(Conflict):
            await new_account(sessionmaker, name=" acme ")

    async def test_conflict_leaves_the_transaction_usable(self, sessionmaker):
        async with sessionmaker() as session, session.begin():
            first = await ledger_service.open_account(session, "acme", 100)
            with pytest.raises(Conflict):
                await ledger_service.open_account(session, "acme", 100)
            second = await ledger_service.open_account(session, "other", 200)
        async with sessionmaker() as session:
            names = dict((await session.execute(select(Account.name, Account.id))).all())
        assert names == {"acme": first, "other": second}

    @pytest.mark.parametrize("name", ["", "   ", "x" * 101])
    async def test_bad_name(self, sessionmaker, name):
        with pytest.raises(ValidationFailed):
            await new_account(sessionmaker, name=name)

    async def test_longest_name_is_fine(self, sessionmaker):
        assert await new_account(sessionmaker, name="x" * 100) > 0

    @pytest.mark.parametrize("balance", [-1, MAX_AMOUNT + 1])
    async def test_bad_opening_balance(self, sessionmaker, balance):
        with pytest.raises(ValidationFailed):
            await new_account(sessionmaker, balance=balance)
        async with sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(Account)) == 0
