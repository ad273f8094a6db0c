"""Test support: the real server started as separate processes (``concierge run``) on one
PostgreSQL schema and one Redis database, like several workers behind a load balancer.

Each process has its own port and state directory; they share the database, the Redis
database and the base of the embedded knowledge index (each claims a directory of its
own under it). Demo mode gives every process the same demo console accounts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
STARTUP = 1500.0  # seconds: loading the models (and embedding the articles) on a shared, busy machine


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """One ``concierge run`` process."""

    name: str
    port: int
    process: asyncio.subprocess.Process
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.AsyncClient:
        """An HTTP client for this process (cookies kept like a browser)."""
        return httpx.AsyncClient(base_url=self.url, timeout=60)

    def tail(self, lines: int = 40) -> str:
        """The end of the process's log, for failure messages."""
        text = self.log.read_text(errors="replace") if self.log.is_file() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Cluster:
    """Several server processes over one database and one Redis."""

    env: dict[str, str]
    root: Path
    model_dir: Path
    servers: list[Server] = field(default_factory=list)

    async def start(self, name: str, extra: Sequence[str] = ()) -> Server:
        """Start a process and wait until its ``/health`` answers (200 or 503)."""
        port = free_port()
        state = self.root / name
        state.mkdir(parents=True, exist_ok=True)
        log = self.root / f"{name}.log"
        env = {**self.env, "CONCIERGE_STATE_DIR": str(state)}
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "concierge.cli",
                "run",
                "--project",
                str(REPO),
                "--model",
                str(self.model_dir),
                "--port",
                str(port),
                *extra,
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        server = Server(name, port, process, log)
        self.servers.append(server)
        await self.wait_healthy(server)
        return server

    async def wait_healthy(self, server: Server, within: float = STARTUP) -> None:
        """Wait until the process answers ``/health``; fail with its log if it died or hung."""
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            try:
                async with asyncio.timeout(within):
                    while True:
                        if server.process.returncode is not None:
                            raise AssertionError(f"{server.name} exited:\n{server.tail()}")
                        with contextlib.suppress(httpx.TransportError):
                            if (await client.get("/health")).status_code in (200, 503):
                                return
                        await asyncio.sleep(0.5)
            except TimeoutError:
                raise AssertionError(f"{server.name} did not start:\n{server.tail()}") from None

    async def stop(self, server: Server) -> None:
        """SIGTERM, then SIGKILL if it does not stop within 30 s."""
        if server.process.returncode is None:
            server.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    await server.process.wait()
            except TimeoutError:
                server.process.kill()
                await server.process.wait()

    async def close(self) -> None:
        """Stop every process."""
        for server in self.servers:
            await self.stop(server)


@contextlib.asynccontextmanager
async def cluster(
    root: Path, model_dir: Path, database_url: str, redis_url: str, **extra_env: str
) -> AsyncIterator[Cluster]:
    """A cluster whose processes share ``database_url`` and ``redis_url``; stopped afterwards."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "CONCIERGE_DATABASE_URL": database_url,
        "CONCIERGE_REDIS_URL": redis_url,
        "CONCIERGE_DEMO": "true",
        "CONCIERGE_KB_CHROMA_PATH": str(root / "chroma"),
        "CONCIERGE_BOOKINGS_URL": f"sqlite:///{root / 'bookings.db'}",
        **extra_env,
    }
    running = Cluster(env=env, root=root, model_dir=model_dir)
    try:
        yield running
    finally:
        await running.close()
