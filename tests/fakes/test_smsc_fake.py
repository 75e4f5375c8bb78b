"""The SMSC fake: its wire format against seed 002 / PROVIDERS.md, and every switch."""

import hashlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from tests.fakes.smsc import SEND_ERRORS, FakeSmsc

LOGIN, PSW = "gateway", "s3cret-Psw"
PHONE = "+79123456789"  # a Russian mobile: 3.50 RUR a part in the fake's price list
T0 = 1_772_013_600.0  # 2026-02-25 10:00:00 UTC = 13:00:00 Moscow


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeSmsc:
    return FakeSmsc(LOGIN, PSW, clock=clock, balance="100")


@pytest.fixture
async def client(fake: FakeSmsc) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=fake.transport(), base_url="https://smsc.ru") as c:
        yield c


def auth(**params: object) -> dict[str, str]:
    return {"login": LOGIN, "psw": PSW, **{k: str(v) for k, v in params.items()}}


async def send(client: httpx.AsyncClient, **params: object) -> str:
    base: dict[str, object] = {"phones": PHONE, "mes": "Your code is 4821", "id": 7,
                               "cost": 3, "fmt": 3, "charset": "utf-8"}  # fmt: skip
    response = await client.get("/sys/send.php", params=auth(**(base | params)))
    assert response.status_code == 200
    return response.text


# --- the seed's error formats, byte for byte ----------------------------------------------

# Seed 002, "Server response and error codes", as the page renders it (N = the code):
#   ERROR = N (description)
#   When fmt = 1:  0,-N
#   When fmt = 2:  <result>/<error>description</error>/<error_code>N</error_code>/</result>
#   When fmt = 3:  {/"error": "description",/"error_code": N/}
SEED_ERROR = {
    "0": "ERROR = N (description)",
    "1": "0,-N",
    "2": "<result>\n<error>description</error>\n<error_code>N</error_code>\n</result>",
    "3": '{\n"error": "description",\n"error_code": N\n}',
}


@pytest.mark.parametrize("fmt", ["0", "1", "2", "3"])
@pytest.mark.parametrize("code", sorted(SEND_ERRORS))
async def test_every_error_code_in_every_format_is_the_seed_layout(
    fake: FakeSmsc, client: httpx.AsyncClient, fmt: str, code: int
) -> None:
    fake.error_next(code, action="balance")
    response = await client.get("/sys/balance.php", params=auth(fmt=fmt))
    expected = SEED_ERROR[fmt].replace("description", SEND_ERRORS[code]).replace("N", str(code))
    assert response.status_code == 200 and response.text == expected
    if fmt == "3":
        assert json.loads(response.text) == {"error": SEND_ERRORS[code], "error_code": code}


def test_only_documented_codes() -> None:
    with pytest.raises(ValueError, match="1-10"):
        FakeSmsc().error_next(11)


async def test_send_errors_3_6_7_8_carry_our_id(fake: FakeSmsc, client: httpx.AsyncClient) -> None:
    fake.balance = Decimal("1")
    assert json.loads(await send(client)) == {"error": "no money", "error_code": 3, "id": 7}
    assert await send(client, fmt=0, mes="other") == "ERROR = 3 (no money), ID - 7"
    assert await send(client, fmt=1, mes="third") == "7,-3"
    assert fake.sends == []


# --- send.php -----------------------------------------------------------------------------


async def test_send_with_our_id_answers_the_spec_shape(
    fake: FakeSmsc, client: httpx.AsyncClient
) -> None:
    body = await send(client)
    # PROVIDERS.md: {"id": N, "cnt": <parts>, "cost": "<decimal>", "balance": "<decimal>"}
    assert body == '{\n"id": 7,\n"cnt": 1,\n"cost": "3.5",\n"balance": "96.5"\n}'
    assert json.loads(body) == {"id": 7, "cnt": 1, "cost": "3.5", "balance": "96.5"}
    assert fake.balance == Decimal("96.5")
    (message,) = fake.sends
    assert (message.id, message.phone, message.parts) == (7, "79123456789", 1)
    assert message.text == "Your code is 4821"
    call = fake.calls[-1]
    assert call.action == "send" and call.authorized
    assert "psw" not in call.params and "login" not in call.params


@pytest.mark.parametrize(
    ("params", "expected"),
    [({"cost": 0, "fmt": 0}, "OK - 2 SMS, ID - 7"),
     ({"cost": 0, "fmt": 1}, "7,2"),
     ({"cost": 3, "fmt": 1}, "7,2,7,93"),
     ({"cost": 3, "fmt": 0}, "OK - 2 SMS, ID - 7, COST - 7, BALANCE - 93"),
     ({"cost": 2, "fmt": 3}, '{\n"id": 7,\n"cnt": 2,\n"cost": "7"\n}'),
     ({"cost": 0, "fmt": 2}, "<result>\n<id>7</id>\n<cnt>2</cnt>\n</result>")],
)  # fmt: skip
async def test_send_answer_formats(
    client: httpx.AsyncClient, params: dict[str, object], expected: str
) -> None:
    assert await send(client, mes="Ж" * 71, **params) == expected  # 71 UCS-2: two parts


async def test_quote_does_not_send_or_charge(fake: FakeSmsc, client: httpx.AsyncClient) -> None:
    body = await send(client, cost=1, mes="x" * 161)
    assert json.loads(body) == {"cost": "7", "cnt": 2}
    assert await send(client, cost=1, fmt=1, mes="y") == "3.5,1"
    assert fake.sends == [] and fake.balance == Decimal("100")
    assert [c.action for c in fake.calls] == ["quote", "quote"]


async def test_sixth_identical_quote_within_a_minute_is_error_9(
    clock: Clock, client: httpx.AsyncClient
) -> None:
    for _ in range(5):
        assert "cost" in json.loads(await send(client, cost=1))
    assert json.loads(await send(client, cost=1))["error_code"] == 9
    clock.now += 61
    assert "cost" in json.loads(await send(client, cost=1))


async def test_identical_send_within_a_minute_is_error_9(
    fake: FakeSmsc, clock: Clock, client: httpx.AsyncClient
) -> None:
    await send(client)
    assert json.loads(await send(client)) == {
        "error": "duplicate request, wait a minute", "error_code": 9}  # fmt: skip
    clock.now += 61
    await send(client)  # SMSC sends it again: the gateway must never get here
    assert [m.id for m in fake.sends] == [7, 7]


async def test_without_charset_smsc_reads_windows_1251(
    fake: FakeSmsc, client: httpx.AsyncClient
) -> None:
    await send(client, mes="Привет", id=1)
    params = auth(phones=PHONE, mes="Привет", id=2, fmt=3)
    await client.get("/sys/send.php", params=params)
    assert [m.text for m in fake.sends] == ["Привет", "Привет".encode().decode("cp1251")]


async def test_post_form_and_md5_password_and_apikey(clock: Clock) -> None:
    fake = FakeSmsc(LOGIN, PSW, apikey="AK-1", clock=clock)
    md5 = hashlib.md5(PSW.encode()).hexdigest()
    async with httpx.AsyncClient(transport=fake.transport(), base_url="https://smsc.ru") as c:
        form = {"login": LOGIN, "psw": md5, "phones": PHONE, "mes": "a", "id": "5", "fmt": "3"}
        assert json.loads((await c.post("/sys/send.php", data=form)).text) == {"id": 5, "cnt": 1}
        keyed = {"apikey": "AK-1", "fmt": "3"}
        assert "balance" in json.loads((await c.get("/sys/balance.php", params=keyed)).text)
        bad = {"login": LOGIN, "psw": "wrong", "fmt": "3"}
        answer = json.loads((await c.get("/sys/balance.php", params=bad)).text)
    assert answer == {"error": "authorise error", "error_code": 2}
    assert fake.calls[0].params["method"] == "POST" and "apikey" not in fake.calls[1].params


@pytest.mark.parametrize(
    ("setup", "params", "code"),
    [("none", {"phones": ""}, 1),
     ("none", {"id": 0}, 1),
     ("none", {"id": 2_147_483_648}, 1),
     ("none", {"mes": "x" * 1001}, 1),
     ("none", {"phones": "+79123456789,+79123456780"}, 1),
     ("none", {"phones": "+7912"}, 7),
     ("none", {"phones": "+5511961234567"}, 8),  # Brazil: not in the price list
     ("banned", {"mes": "Win the CASINO jackpot"}, 6),
     ("busy", {}, 9),
     ("ip", {}, 4)],
)  # fmt: skip
async def test_send_rejections(
    fake: FakeSmsc, client: httpx.AsyncClient, setup: str, params: dict[str, object], code: int
) -> None:
    fake.banned_words = {"casino"} if setup == "banned" else set()
    fake.busy, fake.ip_blocked = setup == "busy", setup == "ip"
    answer = json.loads(await send(client, **params))
    assert answer["error_code"] == code
    assert fake.sends == [] and fake.balance == Decimal("100")


async def test_parts_counted_by_smsc_can_differ(fake: FakeSmsc, client: httpx.AsyncClient) -> None:
    fake.count_parts = lambda text: 3
    assert json.loads(await send(client))["cnt"] == 3
    assert fake.balance == Decimal("89.5")


# --- status.php, balance.php --------------------------------------------------------------


async def status(client: httpx.AsyncClient, fmt: int = 3, msg_id: int = 7) -> str:
    params = auth(phone=PHONE, id=msg_id, fmt=fmt, all=0)
    return (await client.get("/sys/status.php", params=params)).text


async def test_status_lifecycle(fake: FakeSmsc, clock: Clock, client: httpx.AsyncClient) -> None:
    assert json.loads(await status(client)) == {"status": -3}
    await send(client)
    assert json.loads(await status(client)) == {
        "status": -1, "last_date": "25.02.2026 13:00:00", "last_timestamp": int(T0)}  # fmt: skip
    clock.now += 5
    fake.set_status(7, PHONE, 0)
    clock.now += 5
    fake.set_status(7, PHONE, 1)
    assert await status(client) == (
        '{\n"status": 1,\n"last_date": "25.02.2026 13:00:10",\n"last_timestamp": 1772013610\n}'
    )
    assert await status(client, fmt=1) == "1,1772013610"
    assert await status(client, fmt=0) == "Status = 1, check_time = 25.02.2026 13:00:10"


async def test_blacklisted_number_is_accepted_then_prohibited(
    fake: FakeSmsc, client: httpx.AsyncClient
) -> None:
    fake.blacklist.add(PHONE)
    assert json.loads(await send(client))["id"] == 7
    assert json.loads(await status(client)) | {"last_date": "", "last_timestamp": 0} == {
        "status": 23, "err": 252, "last_date": "", "last_timestamp": 0}  # fmt: skip
    assert await status(client, fmt=1) == f"23,{int(T0)},252"


async def test_balance_formats(fake: FakeSmsc, client: httpx.AsyncClient) -> None:
    fake.balance = Decimal("87.40")
    got = [
        (await client.get("/sys/balance.php", params=auth(**p))).text
        for p in ({"fmt": 3}, {"fmt": 3, "cur": 1}, {"fmt": 0}, {"fmt": 1, "cur": 1})
    ]
    assert got == ['{\n"balance": "87.4"\n}', '{\n"balance": "87.4",\n"currency": "RUR"\n}',
                   "87.4", "87.4,RUR"]  # fmt: skip


# --- broken answers, lost answers, reports ------------------------------------------------


@pytest.mark.parametrize("kind", ["html", "garbage", "empty", "500"])
async def test_broken_answers(fake: FakeSmsc, client: httpx.AsyncClient, kind: str) -> None:
    fake.fail_next(kind, action="send")
    response = await client.get("/sys/send.php", params=auth(phones=PHONE, mes="a", fmt=3))
    with pytest.raises(ValueError):
        json.loads(response.text)
    assert fake.sends == []


async def test_lost_answer_still_sends_and_status_finds_it(
    fake: FakeSmsc, client: httpx.AsyncClient
) -> None:
    fake.fail_next("lost", action="send")
    with pytest.raises(httpx.RemoteProtocolError):
        await send(client)
    assert [m.id for m in fake.sends] == [7] and fake.balance == Decimal("96.5")
    assert json.loads(await status(client))["status"] == -1


async def test_slow_answer_times_out(fake: FakeSmsc, client: httpx.AsyncClient) -> None:
    fake.fail_next("slow", action="send")
    with pytest.raises(httpx.ReadTimeout):
        await send(client)
    assert len(fake.sends) == 1  # handled, only the answer never came


async def test_answer_next_is_verbatim(fake: FakeSmsc, client: httpx.AsyncClient) -> None:
    fake.answer_next("<html>maintenance</html>", action="status")
    assert await status(client) == "<html>maintenance</html>"


async def test_reports_in_order_duplicated_and_out_of_order(
    fake: FakeSmsc, clock: Clock, client: httpx.AsyncClient
) -> None:
    await send(client)
    fake.set_status(7, PHONE, 0)
    fake.set_status(7, PHONE, 20, err=6)
    reports = fake.reports(7, PHONE)
    assert [r.params for r in reports] == [
        {"id": "7", "phone": "79123456789", "status": "0", "err": "0"},
        {"id": "7", "phone": "79123456789", "status": "20", "err": "6"},
    ]
    assert [r.params["status"] for r in fake.reports(7, PHONE, duplicate=True)] == [
        "0", "0", "20", "20"]  # fmt: skip
    assert [r.params["status"] for r in fake.reports(7, PHONE, out_of_order=True)] == ["20", "0"]

    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200, text="OK")

    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as gateway:
        for report in reports:
            assert (await report.post(gateway, "https://gw.test/providers/smsc/reports/x")).text
    assert [r.method for r in received] == ["POST", "POST"]
    assert received[1].content == b"id=7&phone=79123456789&status=20&err=6"


async def test_over_real_http(fake: FakeSmsc) -> None:
    with fake.serve() as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=0.5) as c:
            assert json.loads(await send(c))["cnt"] == 1
            fake.delay = 1.0
            fake.fail_next("slow", action="status")
            with pytest.raises(httpx.ReadTimeout):
                await status(c)
            fake.fail_next("lost", action="send")
            with pytest.raises(httpx.RemoteProtocolError):
                await send(c, id=8, mes="second")
    assert [m.id for m in fake.sends] == [7, 8]
