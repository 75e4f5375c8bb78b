"""The Ginota fake: its wire format against seed 003 / PROVIDERS.md, and every switch."""

import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from tests.fakes.ginota import ERRORS, FakeGinota

KEY, SECRET = "GK%2Fab+c", "Sec/Ret=="  # case sensitive, with characters that need encoding
DST = "6591234567"  # Singapore mobile, digits only as Ginota wants it


@pytest.fixture
def fake() -> FakeGinota:
    return FakeGinota(KEY, SECRET, balance="1", price_per_part="0.05")


@pytest.fixture
async def client(fake: FakeGinota) -> AsyncIterator[httpx.AsyncClient]:
    base = "https://www.ginota.com"
    async with httpx.AsyncClient(transport=fake.transport(), base_url=base) as c:
        yield c


async def send(client: httpx.AsyncClient, **params: object) -> httpx.Response:
    base: dict[str, object] = {"apiKey": KEY, "apiSecret": SECRET, "srcAddr": "SMSGATE",
                               "dstAddr": DST, "content": "Your code is 4821", "dlr": 1,
                               "txnRef": "msg000042"}  # fmt: skip
    merged = {k: str(v) for k, v in (base | params).items() if v is not None}
    return await client.get("/gemp/sms/json", params=merged)


def seed_json(text: str) -> object:
    """Seed 003 writes its examples loosely (bare keys, a trailing comma): make them JSON."""
    text = re.sub(r"(\w+) :", r'"\1":', text)
    return json.loads(re.sub(r",\s*}", "}", text))


# Seed 003, verbatim:
SEED_SUCCESS = '{\nstatus : "0",\nparts : 1,\nmessageId : "18D64EC1EADD"\n}'
SEED_NO_BALANCE = '{\nstatus : "44",\n}'


async def test_success_is_the_seed_example(fake: FakeGinota, client: httpx.AsyncClient) -> None:
    response = await send(client)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.content == b'{"status":"0","parts":1,"messageId":"18D64EC1EADD"}'
    assert response.json() == seed_json(SEED_SUCCESS)
    assert list(response.json()) == ["status", "parts", "messageId"]  # the seed's order
    (message,) = fake.sends
    assert (message.dst_addr, message.txn_ref, message.dlr) == (DST, "msg000042", True)
    assert fake.balance == Decimal("0.95")
    call = fake.calls[0]
    assert call.params["apiKey"] == call.params["apiSecret"] == "***"
    assert KEY not in str(fake.calls) and SECRET not in str(fake.calls)


async def test_insufficient_balance_is_the_seed_example(
    fake: FakeGinota, client: httpx.AsyncClient
) -> None:
    fake.balance = Decimal("0.04")
    response = await send(client)
    assert response.status_code == 200 and response.content == b'{"status":"44"}'
    assert response.json() == seed_json(SEED_NO_BALANCE)
    assert fake.sends == []


async def test_desc_when_switched_on(fake: FakeGinota, client: httpx.AsyncClient) -> None:
    fake.with_desc = True
    assert (await send(client, dstAddr="+" + DST)).json() == {
        "status": "4", "desc": "Destination address unreachable"}  # fmt: skip


async def test_parts_follow_153_and_67(fake: FakeGinota, client: httpx.AsyncClient) -> None:
    answers = [
        (await send(client, content=text)).json()["parts"]
        for text in ("a" * 160, "a" * 161, "a" * 307, "Ж" * 70, "Ж" * 135)
    ]
    assert answers == [1, 2, 3, 1, 3]
    ids = [m.message_id for m in fake.sends]
    assert ids[:2] == ["18D64EC1EADD", "18D64EC1EADE"] and len(set(ids)) == 5


async def test_post_form_works_the_same(fake: FakeGinota, client: httpx.AsyncClient) -> None:
    form = {"apiKey": KEY, "apiSecret": SECRET, "srcAddr": "6512345678", "dstAddr": DST,
            "content": "Привет 😀"}  # fmt: skip
    response = await client.post("/gemp/sms/json", data=form)
    assert response.json()["status"] == "0"
    assert fake.sends[0].content == "Привет 😀" and fake.sends[0].dlr is False
    assert fake.calls[0].params["method"] == "POST"


@pytest.mark.parametrize(
    ("setup", "params", "code"),
    [("", {"content": None}, "1"),
     ("", {"apiSecret": None}, "1"),
     ("", {"apiKey": KEY.lower()}, "7"),  # case sensitive
     ("", {"apiSecret": SECRET + "x"}, "7"),
     ("", {"txnRef": "has-dash"}, "1"),
     ("", {"txnRef": "x" * 21}, "1"),
     ("", {"srcAddr": "S" * 22}, "1"),
     ("numeric-only", {"srcAddr": "SMSGATE"}, "21"),
     ("", {"dstAddr": "+" + DST}, "4"),
     ("", {"dstAddr": "091234567"}, "4"),
     ("", {"dstAddr": "999123456"}, "4"),
     ("", {"dstAddr": "79123456789"}, "22"),  # Russia: no route set up
     ("whitelist", {}, "28"),
     ("blacklist", {}, "27"),
     ("", {"content": ""}, "23"),
     ("", {"content": "x" * 1501}, "24"),
     ("banned", {"content": "Free CASINO spins"}, "25"),
     ("invalid", {}, "41"),
     ("suspended", {}, "42"),
     ("busy", {}, "3")],
)  # fmt: skip
async def test_rejections(
    fake: FakeGinota, client: httpx.AsyncClient, setup: str, params: dict[str, object], code: str
) -> None:
    fake.alphanumeric_sender = setup != "numeric-only"
    fake.whitelist = {"6598765432"} if setup == "whitelist" else None
    fake.blacklist = {DST} if setup == "blacklist" else set()
    fake.banned_words = {"casino"} if setup == "banned" else set()
    fake.account = setup if setup in ("invalid", "suspended") else "active"
    fake.busy = setup == "busy"
    response = await send(client, **params)
    assert response.status_code == 200 and response.json() == {"status": code}
    assert fake.sends == [] and fake.balance == Decimal("1")


@pytest.mark.parametrize("code", list(ERRORS))
async def test_every_documented_code_can_be_injected(
    fake: FakeGinota, client: httpx.AsyncClient, code: str
) -> None:
    fake.error_next(code, action="send")
    assert (await send(client)).content == f'{{"status":"{code}"}}'.encode()
    assert (await send(client)).json()["status"] == "0"


def test_only_documented_codes() -> None:
    with pytest.raises(ValueError):
        FakeGinota().error_next(5)


async def test_request_id_variant(fake: FakeGinota, client: httpx.AsyncClient) -> None:
    fake.id_key = "requestId"
    assert list((await send(client)).json()) == ["status", "parts", "requestId"]


async def test_balance(fake: FakeGinota, client: httpx.AsyncClient) -> None:
    auth = {"apiKey": KEY, "apiSecret": SECRET}
    assert (await client.get("/gemp/balance", params=auth)).json() == {
        "status": "0", "balance": "1"}  # fmt: skip
    assert (await client.get("/gemp/balance", params={**auth, "apiKey": "x"})).json() == {
        "status": "7"}  # fmt: skip
    assert [c.action for c in fake.calls] == ["balance", "balance"]


@pytest.mark.parametrize("kind", ["html", "garbage", "empty", "500"])
async def test_broken_answers(fake: FakeGinota, client: httpx.AsyncClient, kind: str) -> None:
    fake.fail_next(kind, action="send")
    with pytest.raises(ValueError):
        (await send(client)).json()
    assert fake.sends == []


async def test_lost_and_slow_answers_still_send(
    fake: FakeGinota, client: httpx.AsyncClient
) -> None:
    fake.fail_next("lost", action="send")
    with pytest.raises(httpx.RemoteProtocolError):
        await send(client)
    fake.fail_next("slow", action="send")
    with pytest.raises(httpx.ReadTimeout):
        await send(client, txnRef="msg000043")
    assert [m.txn_ref for m in fake.sends] == ["msg000042", "msg000043"]


async def test_repeated_txn_ref_is_sent_again(fake: FakeGinota, client: httpx.AsyncClient) -> None:
    await send(client)
    await send(client)
    assert [m.txn_ref for m in fake.sends] == ["msg000042", "msg000042"]


async def test_answer_next_is_verbatim(fake: FakeGinota, client: httpx.AsyncClient) -> None:
    fake.answer_next("Service Temporarily Unavailable")
    assert (await send(client)).text == "Service Temporarily Unavailable"


async def test_receipts_pushed_duplicated_and_out_of_order(
    fake: FakeGinota, client: httpx.AsyncClient
) -> None:
    message_id = (await send(client)).json()["messageId"]
    fake.set_status(message_id, 4)
    fake.set_status(message_id, 0)
    reports = fake.reports(message_id)
    assert [r.params for r in reports] == [
        {"messageId": "18D64EC1EADD", "deliveryStatus": "4", "desc": "Accepted",
         "srcAddr": "SMSGATE", "dstAddr": DST, "txnRef": "msg000042"},
        {"messageId": "18D64EC1EADD", "deliveryStatus": "0", "desc": "Delivered",
         "srcAddr": "SMSGATE", "dstAddr": DST, "txnRef": "msg000042"},
    ]  # fmt: skip
    dup = fake.reports(message_id, duplicate=True)
    assert [r.params["deliveryStatus"] for r in dup] == ["4", "4", "0", "0"]
    late = fake.reports(message_id, out_of_order=True)
    assert [r.params["deliveryStatus"] for r in late] == ["0", "4"]
    with pytest.raises(ValueError):
        fake.set_status(message_id, 2)  # not a documented receipt code

    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as gateway:
        await reports[1].push(gateway, "https://gw.test/providers/ginota/reports/s3cr3t")
    assert received[0].method == "GET"
    assert str(received[0].url) == (
        "https://gw.test/providers/ginota/reports/s3cr3t?messageId=18D64EC1EADD"
        f"&deliveryStatus=0&desc=Delivered&srcAddr=SMSGATE&dstAddr={DST}&txnRef=msg000042"
    )


async def test_no_receipts_without_dlr(fake: FakeGinota, client: httpx.AsyncClient) -> None:
    message_id = (await send(client, dlr=None)).json()["messageId"]
    fake.set_status(message_id, 0)
    assert fake.reports(message_id) == []


async def test_over_real_http(fake: FakeGinota) -> None:
    with fake.serve() as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=0.5) as c:
            assert (await send(c)).json()["status"] == "0"
            fake.delay = 1.0
            fake.fail_next("slow", action="send")
            with pytest.raises(httpx.ReadTimeout):
                await send(c, txnRef="slow1")
            fake.fail_next("lost", action="send")
            with pytest.raises(httpx.RemoteProtocolError):
                await send(c, txnRef="lost1")
    # the slow one is handled after its delay, so possibly after the lost one
    assert sorted(m.txn_ref or "" for m in fake.sends) == ["lost1", "msg000042", "slow1"]
