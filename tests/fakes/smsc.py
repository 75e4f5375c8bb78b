"""A fake SMS Center (smsc.ru, seed 002) speaking `send.php`, `status.php` and `balance.php`.

    fake = FakeSmsc(login="l", password="p", clock=clock)  # clock: () -> epoch seconds
    adapter = SmscSender(SmscSettings(...), transport=fake.transport())
    with fake.serve() as base_url: ...                     # real HTTP, base_url + "/sys"

Answers follow the asked `fmt` (0 text, 1 CSV, 2 XML, 3 JSON; default 0) with the seed's
layout: JSON one `"key": value` per line, XML one element per line. Actions in `calls`:
"send", "quote" (send.php with cost=1), "status", "balance". Auth is `login` + `psw` (the
password or its lowercase MD5) or `apikey`; neither is ever logged in `calls`.

State: `balance` (RUR), `prices` (per part, by ISO country), `messages` keyed by
(id, phone digits), `sends` (every accepted send in order: a repeated send shows up twice).
Switches: `busy` (9, too many concurrent requests), `ip_blocked` (4), `blacklist` (E.164
numbers on the stop list: accepted, then status 23 with err 252), `banned_words` (6),
`duplicate_guard` (9 for an identical send within a minute, or a sixth identical quote),
`count_parts` (how SMSC counts parts; ours by default), `error_next(code)` (any of 1-10),
`answer_next(text)` (any literal body), and `fail_next(kind)` from tests.fakes.base (html,
garbage, 500, slow, "lost": the send IS made and charged, then the connection drops).
Drive messages with `set_status(id, phone, status, err)`; `reports(id, phone)` gives the
callbacks SMSC would POST for that message, `duplicate=`/`out_of_order=` to mangle them.

Where the seed and the public docs are silent the fake decides, and says so: the `fmt=0/1/2`
success layouts of status.php and balance.php, `{"status": -3}` for an unknown message, a
send reusing an id for the same phone is sent again (what the gateway must never cause).
"""

import hashlib
import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import phonenumbers

from app.messages.segments import segment
from tests.fakes.base import Call, FakeUpstream, Reply

PATHS = {"/sys/send.php": "send", "/sys/status.php": "status", "/sys/balance.php": "balance"}
SECRETS = ("login", "psw", "apikey")
# Descriptions as SMSC sends them (public client code and recorded answers); for the codes
# where none was found the seed's own wording is used.
SEND_ERRORS = {
    1: "parameters error",
    2: "authorise error",
    3: "no money",
    4: "IP address is temporarily blocked",
    5: "wrong date format",
    6: "message is denied",
    7: "invalid number",
    8: "can't to deliver",
    9: "duplicate request, wait a minute",
    10: "insufficient funds for crediting",
}
ERRORS_WITH_ID = {3, 6, 7, 8}
PRICES = {"RU": Decimal("3.50"), "KZ": Decimal("4.10"), "ID": Decimal("2.70"),
          "US": Decimal("1.90"), "GB": Decimal("3.20")}  # fmt: skip
MAX_ID = 2_147_483_647
MAX_TEXT = 1000
QUOTE_REPEATS = 5  # identical cost requests allowed a minute; the next answers error 9
MSK = timedelta(hours=3)  # SMSC's dates are Moscow time


def money(value: Decimal) -> str:
    """SMSC writes amounts without trailing zeros: "2.7", "87.4", "3"."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass
class SmscMessage:
    id: int
    phone: str  # digits only, as SMSC keys it
    text: str  # as SMSC read it (windows-1251 unless charset said otherwise)
    sender: str
    parts: int
    cost: Decimal
    history: list[tuple[int, int, float]] = field(default_factory=list)  # (status, err, at)

    @property
    def status(self) -> int:
        return self.history[-1][0]


@dataclass(frozen=True, slots=True)
class SmscReport:
    """One callback SMSC makes: a form POST to the URL set in the account settings."""

    params: dict[str, str]

    def request(self, url: str) -> httpx.Request:
        return httpx.Request("POST", url, data=self.params)

    async def post(self, client: httpx.AsyncClient, url: str) -> httpx.Response:
        return await client.send(self.request(url))


class FakeSmsc(FakeUpstream):
    def __init__(
        self,
        login: str = "test-smsc-login",
        password: str = "test-smsc-psw",
        *,
        apikey: str | None = None,
        clock: Callable[[], float] | None = None,
        balance: Decimal | str = "500",
        currency: str = "RUR",
    ) -> None:
        super().__init__(clock)
        self.login, self.password, self.apikey = login, password, apikey
        self.balance = Decimal(balance)
        self.currency = currency
        self.prices = dict(PRICES)
        self.messages: dict[tuple[int, str], SmscMessage] = {}
        self.sends: list[SmscMessage] = []
        self.busy = False
        self.ip_blocked = False
        self.blacklist: set[str] = set()
        self.banned_words: set[str] = set()
        self.duplicate_guard = True
        self.count_parts: Callable[[str], int] = lambda text: segment(text).segments
        self._recent: list[tuple[float, str, tuple[str, ...]]] = []  # (at, action, request)
        self._errors: list[tuple[str | None, int]] = []
        self._answers: list[tuple[str | None, str]] = []
        self._ids = itertools.count(10001)

    # --- switches and drivers ---------------------------------------------------------

    def error_next(self, code: int, *, action: str | None = None) -> None:
        """The next request (of `action`) answers SMSC error `code` in its own `fmt`."""
        if code not in SEND_ERRORS:
            raise ValueError(f"SMSC documents error codes 1-10, not {code}")
        self._errors.append((action, code))

    def answer_next(self, text: str, *, action: str | None = None) -> None:
        self._answers.append((action, text))

    def set_status(self, msg_id: int, phone: str, status: int, err: int = 0) -> None:
        self.messages[(msg_id, _digits(phone))].history.append((status, err, self.clock()))

    def reports(
        self, msg_id: int, phone: str, *, duplicate: bool = False, out_of_order: bool = False
    ) -> list[SmscReport]:
        """The callbacks for every status the message reached after it was queued."""
        message = self.messages[(msg_id, _digits(phone))]
        found = [
            SmscReport({"id": str(message.id), "phone": message.phone, "status": str(status),
                        "err": str(err)})
            for status, err, _ in message.history[1:]
        ]  # fmt: skip
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
        if "mes" in params and params.get("charset", "windows-1251").lower() != "utf-8":
            # Without charset=utf-8 SMSC reads the bytes as windows-1251: keep what it sees.
            params["mes"] = params["mes"].encode("utf-8").decode("cp1251", "replace")
        action = PATHS.get(path, "unknown")
        if action == "send" and params.get("cost") == "1":
            action = "quote"
        authorized = self._authorized(params)
        clean = {k: v for k, v in params.items() if k not in SECRETS}
        return Call(action, {**clean, "method": method}, authorized, path)

    def _authorized(self, params: dict[str, str]) -> bool:
        if self.apikey is not None and params.get("apikey") == self.apikey:
            return True
        md5 = hashlib.md5(self.password.encode()).hexdigest()
        return params.get("login") == self.login and params.get("psw") in (self.password, md5)

    def handle(self, call: Call, headers: dict[str, str]) -> Reply:
        if call.action == "unknown":
            return Reply.text("<html><body><h1>404 Not Found</h1></body></html>", 404)
        for i, (action, text) in enumerate(self._answers):
            if action in (None, call.action):
                del self._answers[i]
                return Reply.text(text)
        p = call.params
        fmt = p.get("fmt", "0")
        for i, (action, code) in enumerate(self._errors):
            if action in (None, call.action):
                del self._errors[i]
                return self._error(fmt, code)
        if not call.authorized:
            return self._error(fmt, 2)
        if self.ip_blocked:
            return self._error(fmt, 4)
        if self.busy:
            return self._error(fmt, 9, "too many concurrent requests")
        if call.action == "balance":
            return self._balance(fmt, p.get("cur") == "1")
        if call.action == "status":
            return self._status(fmt, p)
        return self._send(fmt, call.action, p)

    def _send(self, fmt: str, action: str, p: dict[str, Any]) -> Reply:
        text, raw_id = p.get("mes", ""), p.get("id", "")
        phone = p.get("phones", "")
        if not text or not phone or len(text) > MAX_TEXT:
            return self._error(fmt, 1)
        if raw_id and not (raw_id.isdigit() and 1 <= int(raw_id) <= MAX_ID):
            return self._error(fmt, 1)
        msg_id = int(raw_id) if raw_id and action == "send" else None
        request = (phone, text, p.get("sender", ""))
        if self.duplicate_guard and self._repeated(action, request):
            return self._error(fmt, 9)
        if any(sep in phone for sep in ",;") or phone.startswith("G"):
            return self._error(fmt, 1, "the fake sends to one number at a time")
        country = _region(phone)
        if country is None:
            return self._error(fmt, 7, msg_id=msg_id)
        price = self.prices.get(country)
        if price is None:
            return self._error(fmt, 8, msg_id=msg_id)
        if any(word in text.lower() for word in self.banned_words):
            return self._error(fmt, 6, msg_id=msg_id)
        parts = self.count_parts(text)
        cost = price * parts
        if action == "quote":
            return self._answer(
                fmt, [("cost", money(cost)), ("cnt", parts)], f"{money(cost)} ({parts} SMS)"
            )
        if cost > self.balance:
            return self._error(fmt, 3, msg_id=msg_id)
        msg_id = msg_id if msg_id is not None else next(self._ids)
        self.balance -= cost
        message = SmscMessage(msg_id, _digits(phone), text, p.get("sender", ""), parts, cost)
        message.history.append((-1, 0, self.clock()))
        if "+" + message.phone in self.blacklist:
            message.history.append((23, 252, self.clock()))
        self.messages[(msg_id, message.phone)] = message
        self.sends.append(message)
        fields: list[tuple[str, Any]] = [("id", msg_id), ("cnt", parts)]
        plain = f"OK - {parts} SMS, ID - {msg_id}"
        if p.get("cost") in ("2", "3"):
            fields.append(("cost", money(cost)))
            plain += f", COST - {money(cost)}"
        if p.get("cost") == "3":
            fields.append(("balance", money(self.balance)))
            plain += f", BALANCE - {money(self.balance)}"
        return self._answer(fmt, fields, plain)

    def _repeated(self, action: str, request: tuple[str, ...]) -> bool:
        now = self.clock()
        self._recent = [r for r in self._recent if now - r[0] < 60]
        seen = sum(1 for _, a, req in self._recent if a == action and req == request)
        self._recent.append((now, action, request))
        return seen >= (1 if action == "send" else QUOTE_REPEATS)

    def _status(self, fmt: str, p: dict[str, Any]) -> Reply:
        raw_id, phone = p.get("id", ""), _digits(p.get("phone", ""))
        if not raw_id.isdigit() or not phone:
            return self._error(fmt, 1)
        message = self.messages.get((int(raw_id), phone))
        if message is None:
            return self._answer(fmt, [("status", -3)], "Status = -3")
        status, err, at = message.history[-1]
        stamp = int(at)
        date = (datetime.fromtimestamp(stamp, UTC) + MSK).strftime("%d.%m.%Y %H:%M:%S")
        fields: list[tuple[str, Any]] = [
            ("status", status), ("last_date", date), ("last_timestamp", stamp)
        ]  # fmt: skip
        plain = f"Status = {status}, check_time = {date}"
        csv = f"{status},{stamp}"
        if err:
            fields.append(("err", err))
            plain += f", err = {err}"
            csv += f",{err}"
        return self._answer(fmt, fields, plain, csv)

    def _balance(self, fmt: str, with_currency: bool) -> Reply:
        fields: list[tuple[str, Any]] = [("balance", money(self.balance))]
        if with_currency:
            fields.append(("currency", self.currency))
        return self._answer(fmt, fields, ", ".join(str(v) for _, v in fields))

    # --- the four formats -------------------------------------------------------------

    def _answer(
        self, fmt: str, fields: list[tuple[str, Any]], plain: str, csv: str | None = None
    ) -> Reply:
        if fmt == "1":
            return Reply.text(csv if csv is not None else ",".join(str(v) for _, v in fields))
        if fmt == "2":
            lines = "".join(f"<{k}>{v}</{k}>\n" for k, v in fields)
            return Reply.text(f"<result>\n{lines}</result>")
        if fmt == "3":
            return Reply.text(_json(fields))
        return Reply.text(plain)

    def _error(
        self, fmt: str, code: int, description: str | None = None, *, msg_id: int | None = None
    ) -> Reply:
        text = description or SEND_ERRORS[code]
        with_id = msg_id is not None and code in ERRORS_WITH_ID
        if fmt == "1":
            return Reply.text(f"{msg_id if with_id else 0},-{code}")
        if fmt == "2":
            extra = f"<id>{msg_id}</id>\n" if with_id else ""
            return Reply.text(
                f"<result>\n<error>{text}</error>\n<error_code>{code}</error_code>\n{extra}</result>"
            )
        if fmt == "3":
            fields: list[tuple[str, Any]] = [("error", text), ("error_code", code)]
            return Reply.text(_json(fields + ([("id", msg_id)] if with_id else [])))
        return Reply.text(f"ERROR = {code} ({text})" + (f", ID - {msg_id}" if with_id else ""))


def _json(fields: Iterable[tuple[str, Any]]) -> str:
    # The seed's layout: one `"key": value` a line; strings quoted, numbers bare.
    rendered = (f'"{k}": {json.dumps(v, ensure_ascii=False)}' for k, v in fields)
    return "{\n" + ",\n".join(rendered) + "\n}"


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def _region(phone: str) -> str | None:
    try:
        number = phonenumbers.parse("+" + _digits(phone), None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.region_code_for_number(number)
