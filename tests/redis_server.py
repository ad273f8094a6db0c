"""Test support: a redis-server of the test's own, which the test may stop and start again.

The machine's shared Redis is never stopped; a test that needs Redis to die starts this one
on a free port, without persistence (``--save ''``), and stops it afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OwnRedis:
    """A redis-server process on ``port``; :meth:`stop` and :meth:`start` it at will."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Start the server (same port) and wait until it answers."""
        binary = shutil.which("redis-server")
        if binary is None:  # a missing server is a failure, never a skip
            pytest.fail("redis-server is not installed; scripts/setup installs it")
        self.process = await asyncio.create_subprocess_exec(
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url)
        try:
            async with asyncio.timeout(10):
                while True:
                    with contextlib.suppress(Exception):
                        if await client.ping():
                            return
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        """Kill the server (like a crash or a lost network) and wait until it is gone."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self.process = None


@contextlib.asynccontextmanager
async def own_redis() -> AsyncIterator[OwnRedis]:
    """A running redis-server of the test's own; stopped afterwards."""
    server = OwnRedis(_free_port())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
