"""Start `smsgate serve` as a real process on a free loopback port, and stop it."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[str]
    base_url: str
    cwd: Path

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)


@contextmanager
def running_server(
    env: dict[str, str],
    cwd: Path,
    start_timeout: float = 60,
    extra_args: list[str] | None = None,
    log_file: Path | None = None,
) -> Iterator[Server]:
    """`log_file`: the server's stderr goes there (for long runs that would fill a pipe)."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SMSGATE_", "DATABASE"))}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), *(extra_args or [])],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE if log_file is None else subprocess.DEVNULL,
        stderr=subprocess.PIPE if log_file is None else log_file.open("w"),
        text=True,
    )
    server = Server(process, f"http://127.0.0.1:{port}", cwd)
    deadline = time.monotonic() + start_timeout
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{process.stderr.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{server.base_url}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in time")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
