"""The fake rental-handler.php: its wire format against seed 001's examples, byte for byte,
and each of its switches. Seed lines are quoted verbatim (the seed prints them wrapped;
joined, they are the compact JSON the fake sends)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from tests.fakes.otpget import FakeOtpget
from tests.fakes.otpget_rentals import FakeOtpgetRentals

KEY = "sk_live_rentals_77ab"
BOUGHT = datetime(2026, 3, 10, 21, 55, 55, tzinfo=UTC).timestamp()  # seed: 720 h → 04-09


class Clock:
    def __init__(self) -> None:
        self.now = BOUGHT

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def otpget(clock: Clock) -> FakeOtpget:
    return FakeOtpget(KEY, clock=clock)


@pytest.fixture
def rentals(otpget: FakeOtpget) -> FakeOtpgetRentals:
    return FakeOtpgetRentals(otpget)


@pytest.fixture
async def client(
    otpget: FakeOtpget, rentals: FakeOtpgetRentals
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=otpget.transport(), base_url="https://otpget.com/stubs/"
    ) as http:
        yield http


async def call(http: httpx.AsyncClient, action: str, key: str = KEY, **params: str) -> str:
    response = await http.get(
        "rental-handler.php", params={"api_key": key, "action": action, **params}
    )
    assert response.status_code == 200
    return response.text


async def rent(http: httpx.AsyncClient, hours: str = "720", **where: str) -> str:
    params = {"country_code": "ca", "provider": "2", "duration_hours": hours} | where
    return await call(http, "rentNumber", **params)


class TestSeedWireFormat:
    async def test_countries(self, client: httpx.AsyncClient) -> None:
        body = await call(client, "getRentalCountries", provider="2")
        assert body.startswith('{"status":"200","message":"OK","countries":[')
        assert '{"id":"1","provider":"2","name":"Canada","country_code":"ca"},' in body
        assert body.endswith(
            '{"id":"6","provider":"2","name":"United States of America","country_code":"us"}]}'
        )
        everything = await call(client, "getRentalCountries")
        assert '"provider":"1"' in everything and '"provider":"2"' in everything

    async def test_pricing_and_live_stock(self, client: httpx.AsyncClient) -> None:
        pricing = await call(client, "getRentalPricing", country_code="ca", provider="2")
        assert pricing.endswith(
            '{"id":"1","duration_hours":"720","price":"840.00","country_name":"Canada"},'
            '{"id":"2","duration_hours":"4320","price":"5040.00","country_name":"Canada"}'
            "]}"
        )
        stock = await call(client, "getAvailableRentals", country_code="ca", provider="2")
        assert stock.endswith(
            '{"area_code":"ca","area_title":"Canada","available":3338,"min_month":1}]}'
        )

    async def test_rent_list_sms_and_renew(
        self, client: httpx.AsyncClient, otpget: FakeOtpget, rentals: FakeOtpgetRentals
    ) -> None:
        otpget.balance = Decimal("5060.00")
        assert (await rent(client)).endswith(
            '"phone":"3434337545","order_id":"2673093356180000583",'
            '"duration_hours":720,"price_paid":"840.00","new_balance":"4220.00",'
            '"expires":"2026-04-09 21:55:55"}'
        )
        assert otpget.balance == Decimal("4220.00")
        mine = await call(client, "getMyRentals")
        assert mine.endswith(
            '"id":"27","server":"Server 2","phone_number":"3434337545",'
            '"order_id":"2673093356180000583","status":"active",'
            '"country_code":"ca","expiry_time":"2026-04-09 21:55:55"'
            "}]}"
        )
        sms_at = datetime(2026, 3, 9, 20, 57, 32, tzinfo=UTC).timestamp()
        rentals.deliver_sms("2673093356180000583", "Your WhatsApp code 740-279", at=sms_at)
        sms = await call(client, "getRentalSMS", order_id="2673093356180000583")
        assert sms.endswith(
            '"from":"Server 2","text":"Your WhatsApp code 740-279","code":"","timestamp":"2026-03-09T20:57:32Z"'  # noqa: E501 (the seed's line, verbatim)
            "}]}"
        )
        otpget.balance = Decimal("4280.00")
        renewed = await call(client, "renewRental", rental_id="27", duration_hours="720")
        assert renewed.endswith(
            '"phone_number":"3434337545","duration_hours":720,'
            '"price_paid":"840.00","new_balance":"3440.00","new_expiry":"2026-05-09 21:55:55"}'
        )

    async def test_renew_takes_the_id_not_the_order_id(self, client: httpx.AsyncClient) -> None:
        await rent(client)
        by_order = await call(
            client, "renewRental", rental_id="2673093356180000583", duration_hours="720"
        )
        assert (
            by_order == '{"status":"404","message":"Rental not found or does not belong to you."}'
        )


class TestErrors:
    async def test_documented_statuses_and_messages(
        self, client: httpx.AsyncClient, otpget: FakeOtpget, rentals: FakeOtpgetRentals
    ) -> None:
        def envelope(status: str, message: str) -> str:
            return f'{{"status":"{status}","message":"{message}"}}'

        assert await call(client, "getMyRentals", key="wrong") == envelope(
            "401", "Invalid API key."
        )
        assert await call(client, "launchRocket") == envelope("400", "Unknown action: launchRocket")
        assert await call(client, "rentNumber", provider="2") == envelope(
            "400", "country_code is required."
        )
        assert await rent(client, hours="24") == envelope(
            "400", "Server 2 only supports monthly durations (720, 4320, 8640 hours)."
        )
        assert await rent(client, hours="8640") == envelope(
            "404", "No pricing found for this country/provider/duration."
        )
        otpget.balance = Decimal("839.99")
        assert await rent(client) == envelope("402", "Insufficient balance.")
        otpget.balance = Decimal("5000")
        rentals.disabled.add(2)
        assert await rent(client) == envelope("503", "Server 2 is currently unavailable.")
        rentals.disabled.clear()
        rentals.upstream_error[2] = "timeout"
        assert await rent(client) == envelope("502", "Server 2 error: timeout")
        rentals.upstream_error.clear()
        rentals.database_error = True
        assert await rent(client) == envelope(
            "500", "Database error: deadlock found when trying to get lock"
        )
        assert otpget.balance == Decimal("5000") and not rentals.rentals  # nothing deducted
        rentals.database_error = False
        otpget.blocked = True
        assert await rent(client) == envelope("403", "Account is blocked or inactive.")

    async def test_server_1_sells_short_terms(self, client: httpx.AsyncClient) -> None:
        body = await rent(client, hours="12", country_code="gb", provider="1")
        assert '"duration_hours":12' in body and '"status":"200"' in body
        assert '"status":"400"' in await rent(client, hours="36", country_code="gb", provider="1")


class TestSwitches:
    async def test_no_stock(
        self, client: httpx.AsyncClient, otpget: FakeOtpget, rentals: FakeOtpgetRentals
    ) -> None:
        rentals.set_stock(2, "ca", 0)
        stock = await call(client, "getAvailableRentals", country_code="ca", provider="2")
        assert '"available":0' in stock
        before = otpget.balance
        assert await rent(client) == '{"status":"502","message":"Server 2 error: NO_NUMBERS"}'
        assert otpget.balance == before

    async def test_sms_over_time_and_duplicated(
        self, client: httpx.AsyncClient, clock: Clock, rentals: FakeOtpgetRentals
    ) -> None:
        await rent(client)
        order_id = next(iter(rentals.rentals))
        assert (await call(client, "getRentalSMS", order_id=order_id)).endswith('"messages":[]}')
        rentals.deliver_sms(order_id, "Code 111111")
        clock.now += 60
        rentals.deliver_sms(order_id, "Code 222222", code="222222")
        listed = await call(client, "getRentalSMS", order_id=order_id)
        assert listed.count('"text":') == 2 and '"code":"222222"' in listed
        rentals.duplicate_sms = True
        assert (await call(client, "getRentalSMS", order_id=order_id)).count("Code 111111") == 2

    async def test_expiry_and_renewing_an_expired_rental(
        self, client: httpx.AsyncClient, clock: Clock, rentals: FakeOtpgetRentals
    ) -> None:
        await rent(client)
        clock.now += 720 * 3600
        assert '"status":"expired"' in await call(client, "getMyRentals")
        assert await call(client, "renewRental", rental_id="27", duration_hours="720") == (
            '{"status":"400","message":"Only active rentals can be renewed."}'
        )

    async def test_fail_with_and_mirrored_http_status(
        self, client: httpx.AsyncClient, rentals: FakeOtpgetRentals
    ) -> None:
        rentals.fail_with("502", "Server 1 error: upstream said no", action="getMyRentals")
        assert '"status":"502"' in await call(client, "getMyRentals")
        assert '"status":"200"' in await call(client, "getMyRentals")
        rentals.mirror_http_status = True
        response = await client.get(
            "rental-handler.php", params={"api_key": "bad", "action": "getMyRentals"}
        )
        assert response.status_code == 401 and response.json()["status"] == "401"

    async def test_base_faults_reach_the_mounted_handler(
        self, client: httpx.AsyncClient, otpget: FakeOtpget, rentals: FakeOtpgetRentals
    ) -> None:
        otpget.fail_next("html", action="getMyRentals")
        assert (
            "<html>"
            in (
                await client.get(
                    "rental-handler.php", params={"api_key": KEY, "action": "getMyRentals"}
                )
            ).text
        )
        otpget.fail_next("garbage", action="getMyRentals")
        assert (
            await client.get(
                "rental-handler.php", params={"api_key": KEY, "action": "getMyRentals"}
            )
        ).content.startswith(b"\x00")
        otpget.fail_next("lost", action="rentNumber")
        with pytest.raises(httpx.RemoteProtocolError):
            await rent(client)
        assert len(rentals.rentals) == 1  # processed, then the answer was dropped
        otpget.fail_next("slow", action="rentNumber")
        with pytest.raises(httpx.ReadTimeout):
            await rent(client)
        assert len(rentals.rentals) == 2
        assert [c.action for c in rentals.calls()][-2:] == ["rentNumber", "rentNumber"]
        assert all("api_key" not in c.params for c in rentals.calls())


class TestOneFakeForFourHandlers:
    async def test_over_loopback(self, otpget: FakeOtpget, rentals: FakeOtpgetRentals) -> None:
        with otpget.serve() as base_url:
            async with httpx.AsyncClient(base_url=f"{base_url}/stubs/", timeout=5) as http:
                assert (await call(http, "getRentalCountries")).startswith('{"status":"200"')
                balance = await http.get(
                    "handler_api.php", params={"api_key": KEY, "action": "getBalance"}
                )
                assert balance.text == "ACCESS_BALANCE:5000.00"
                await rent(http)
                after = await http.get(
                    "cheap_handler.php", params={"api_key": KEY, "action": "getBalance"}
                )
                assert after.text == "ACCESS_BALANCE:4160.00"  # one wallet for every handler
