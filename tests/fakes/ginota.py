"""A fake Ginota Concierge API (seed 003): `sms/json`, `balance`, and its pushed receipts.

    fake = FakeGinota(api_key="k", api_secret="s", clock=clock)
    adapter = GinotaSender(GinotaSettings(...), transport=fake.transport())
    with fake.serve() as base_url: ...                    # real HTTP, base_url + "/gemp"

Every answer is HTTP 200 with a JSON body whose `status` is a string code: success
`{"status":"0","parts":N,"messageId":"..."}` (the first id is the seed's "18D64EC1EADD"),
an error `{"status":"44"}` (plus `"desc"` when `with_desc`). Actions in `calls`: "send",
"balance"; `apiKey`/`apiSecret` (case sensitive) show there only as "***".

State: `balance` and `price_per_part` (the account's own currency: Ginota reports no
price), `routes` (ISO countries set up for the account), `messages` by messageId, `sends`
(every accepted send in order). Switches, each answering its documented code:
`alphanumeric_sender` False (21), `whitelist` (28 when set and the number is not in it),
`blacklist` (27), `banned_words` (25), `account` "invalid" (41) / "suspended" (42), `busy`
(3), `error_next(code)` (any documented code, e.g. 2, 50, 51), `answer_next(text)` (any
literal body), `id_key` (the id's field name: the seed's attribute table says `requestId`,
its example `messageId`), and `fail_next(kind)` from tests.fakes.base (html, garbage,
500, slow, "lost": the SMS IS sent and charged, then the connection drops).
Receipts: `set_status(message_id, code)`; `reports(message_id)` gives the GETs Ginota
would push (only for messages sent with dlr=1), `duplicate=`/`out_of_order=` to mangle.

Where the seed is silent the fake decides, and says so: the balance answer
`{"status":"0","balance":"<decimal>"}`, receipt `desc` wording, a repeated txnRef is
simply sent again, mandatory-but-missing parameters answer 1 while an empty content
answers 23.
"""

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import phonenumbers

from app.messages.segments import segment
from tests.fakes.base import Call, FakeUpstream, Reply

PATHS = {"/gemp/sms/json": "send", "/gemp/balance": "balance"}
SECRETS = ("apiKey", "apiSecret")
MANDATORY = ("apiKey", "apiSecret", "srcAddr", "dstAddr", "content")
ERRORS = {  # seed 003, "Error Response Code": code -> description
    "1": "Invalid request", "2": "System error", "3": "System busy",
    "4": "Destination address unreachable", "7": "Access denied",
    "21": "Invalid source address", "22": "Invalid destination address",
    "23": "Invalid message", "24": "Message too long", "25": "Contains banned words",
    "27": "Destination address blacklisted", "28": "Destination address not whitelisted",
    "41": "Invalid account", "42": "Account suspended", "44": "Insufficient balance",
    "50": "Duplicate subscriber", "51": "Invalid subscriber",
}  # fmt: skip
RECEIPTS = {0: "Delivered", 1: "Expired", 3: "Undeliverable", 4: "Accepted", 5: "Unknown"}
ROUTES = frozenset({"SG", "MY", "ID", "PH", "TH"})
FIRST_MESSAGE_ID = 0x18D64EC1EADD
MAX_CONTENT = 1500
_SRC = re.compile(r"[A-Za-z0-9]{1,21}")
_TXN = re.compile(r"[A-Za-z0-9]{1,20}")


@dataclass
class GinotaMessage:
    message_id: str
    src_addr: str
    dst_addr: str
    content: str
    parts: int
    txn_ref: str | None
    dlr: bool
    sent_at: float
    receipts: list[int] = field(default_factory=list)  # deliveryStatus codes, in order


@dataclass(frozen=True, slots=True)
class GinotaReport:
    """One delivery receipt: an HTTP GET to the URL set under Profile > API Settings."""

    params: dict[str, str]

    def request(self, url: str) -> httpx.Request:
        return httpx.Request("GET", url, params=self.params)

    async def push(self, client: httpx.AsyncClient, url: str) -> httpx.Response:
        return await client.send(self.request(url))


class FakeGinota(FakeUpstream):
    def __init__(
        self,
        api_key: str = "test-ginota-Key",
        api_secret: str = "test-ginota-Secret",
        *,
        clock: Callable[[], float] | None = None,
        balance: Decimal | str = "50",
        price_per_part: Decimal | str = "0.05",
    ) -> None:
        super().__init__(clock)
        self.api_key, self.api_secret = api_key, api_secret
        self.balance = Decimal(balance)
        self.price_per_part = Decimal(price_per_part)
        self.routes: set[str] = set(ROUTES)
        self.messages: dict[str, GinotaMessage] = {}
        self.sends: list[GinotaMessage] = []
        self.alphanumeric_sender = True
        self.whitelist: set[str] | None = None  # dstAddr digits; None: feature off
        self.blacklist: set[str] = set()  # dstAddr digits
        self.banned_words: set[str] = set()
        self.account = "active"  # | "invalid" | "suspended"
        self.busy = False
        self.with_desc = False
        self.id_key = "messageId"
        self._errors: list[tuple[str | None, str]] = []
        self._answers: list[tuple[str | None, str]] = []
        self._ids = itertools.count(FIRST_MESSAGE_ID)

    # --- switches and drivers ---------------------------------------------------------

    def error_next(self, code: int | str, *, action: str | None = None) -> None:
        if str(code) not in ERRORS:
            raise ValueError(f"Ginota documents {list(ERRORS)}, not {code}")
        self._errors.append((action, str(code)))

    def answer_next(self, text: str, *, action: str | None = None) -> None:
        self._answers.append((action, text))

    def set_status(self, message_id: str, delivery_status: int) -> None:
        if delivery_status not in RECEIPTS:
            raise ValueError(f"Ginota documents receipt codes {sorted(RECEIPTS)}")
        self.messages[message_id].receipts.append(delivery_status)

    def reports(
        self, message_id: str, *, duplicate: bool = False, out_of_order: bool = False
    ) -> list[GinotaReport]:
        message = self.messages[message_id]
        if not message.dlr:
            return []  # no dlr=1, no receipts
        found = []
        for code in message.receipts:
            params = {"messageId": message.message_id, "deliveryStatus": str(code),
                      "desc": RECEIPTS[code], "srcAddr": message.src_addr,
                      "dstAddr": message.dst_addr}  # fmt: skip
            if message.txn_ref is not None:
                params["txnRef"] = message.txn_ref
            found.append(GinotaReport(params))
        if duplicate:
            found = [r for r in found for _ in (0, 1)]
        return found[::-1] if out_of_order else found

    # --- protocol ---------------------------------------------------------------------

    def parse(
        self, method: str, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> Call:
        params = dict(query)
        if body:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        authorized = (params.get("apiKey"), params.get("apiSecret")) == (
            self.api_key, self.api_secret)  # fmt: skip
        # The credentials are masked, not dropped: a missing one answers 1, a wrong one 7.
        clean = {k: "***" if k in SECRETS else v for k, v in params.items()}
        return Call(PATHS.get(path, "unknown"), {**clean, "method": method}, authorized, path)

    def handle(self, call: Call, headers: dict[str, str]) -> Reply:
        if call.action == "unknown":
            return Reply.text("<html><body><h1>404 Not Found</h1></body></html>", 404)
        for i, (action, text) in enumerate(self._answers):
            if action in (None, call.action):
                del self._answers[i]
                return Reply.text(text)
        for i, (action, code) in enumerate(self._errors):
            if action in (None, call.action):
                del self._errors[i]
                return self._error(code)
        if not all(k in call.params for k in SECRETS):
            return self._error("1")
        if not call.authorized:
            return self._error("7")
        if self.account != "active":
            return self._error("41" if self.account == "invalid" else "42")
        if self.busy:
            return self._error("3")
        if call.action == "balance":
            return _json({"status": "0", "balance": f"{self.balance:f}"})
        return self._send(call.params)

    def _send(self, p: dict[str, Any]) -> Reply:
        if not all(k in p for k in MANDATORY):
            return self._error("1")
        src, dst, content = p["srcAddr"], p["dstAddr"], p["content"]
        txn_ref = p.get("txnRef")
        if not _SRC.fullmatch(src) or (txn_ref is not None and not _TXN.fullmatch(txn_ref)):
            return self._error("1")
        if not src.isdigit() and not self.alphanumeric_sender:
            return self._error("21")
        country = _region(dst)
        if country is None:
            return self._error("4")
        if country not in self.routes:
            return self._error("22")
        if self.whitelist is not None and dst not in self.whitelist:
            return self._error("28")
        if dst in self.blacklist:
            return self._error("27")
        if content == "":
            return self._error("23")
        if len(content) > MAX_CONTENT:
            return self._error("24")
        if any(word in content.lower() for word in self.banned_words):
            return self._error("25")
        parts = segment(content).segments
        if self.price_per_part * parts > self.balance:
            return self._error("44")
        self.balance -= self.price_per_part * parts
        message_id = f"{next(self._ids):012X}"
        message = GinotaMessage(message_id, src, dst, content, parts, txn_ref,
                                p.get("dlr") == "1", self.clock())  # fmt: skip
        self.messages[message_id] = message
        self.sends.append(message)
        return _json({"status": "0", "parts": parts, self.id_key: message_id})

    def _error(self, code: str) -> Reply:
        payload = {"status": code}
        if self.with_desc:
            payload["desc"] = ERRORS[code]
        return _json(payload)


def _json(payload: dict[str, Any]) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(200, body, "application/json;charset=UTF-8")


def _region(dst: str) -> str | None:
    # dstAddr is digits with the country code and no "+"; anything else is "incorrect format"
    if not dst.isdigit() or dst.startswith("0"):
        return None
    try:
        number = phonenumbers.parse("+" + dst, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.region_code_for_number(number)
