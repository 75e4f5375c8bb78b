"""A small closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending its
next request when the previous answer is in. Lean on purpose, so on a 2-core machine the
client takes as little CPU from the server as possible."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<28} {self.rps:>9.0f} req/s   p50 {self.percentile(50):>7.1f} ms"
            f"   p99 {self.percentile(99):>7.1f} ms"
            f"   n={len(self.latencies)} statuses={self.statuses}"
        )


RequestFactory = Callable[[int], bytes]


def request(method: str, path: str, token: str, body: bytes = b"", extra: str = "") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def run_load(
    name: str, host: str, port: int, make: RequestFactory, *, connections: int, total: int
) -> LoadResult:
    result = LoadResult(name)
    counter = iter(range(total))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in counter:
                payload = make(i)
                started = time.perf_counter()
                writer.write(payload)
                status, _ = await _read_response(reader)
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.elapsed = time.perf_counter() - started
    return result
