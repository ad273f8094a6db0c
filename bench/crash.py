"""Crash benchmark: ``kill -9`` the server while signed Telegram updates stream in, restart it,
and count what the clients saw.

    .venv/bin/python -m bench.crash [--messages 1000] [--conversations 100] [--rate 25]
                                    [--kill-at 0.5] [--database postgresql|sqlite]
                                    [--postgres-url postgresql://postgres@127.0.0.1:5432/test]

A real server process (``concierge run`` on a copy of the small test bot) serves the
Telegram channel, pointed at the local Bot API stand-in (``tests/bot/channels/standins/
telegram.py``) served by this script. ``--messages`` updates over ``--conversations`` chats
are posted at a steady ``--rate`` (per second, all chats together), each with the webhook's
secret token; like Telegram, an update that is not acknowledged with a 2xx is posted again
(every 0.25 s), and one chat's next update waits for the previous one's acknowledgement.
When ``--kill-at`` of them are acknowledged the server gets SIGKILL and is started again
at once. The script then waits until every update is acknowledged, no inbound message
is left unprocessed and no outbox row is queued or sending (nothing more can go out), and
prints one JSON line:

- ``sent`` updates, ``answered`` of them with their reply, ``lost`` (no reply),
- ``duplicate_replies`` (a reply the stand-in received more often than asked for),
- ``other_replies`` (answered, but not with the scripted reply: a failed turn's apology,
  counted in ``failed_turns`` too, or a misunderstanding),
- ``out_of_order_conversations`` (replies not in the order of the messages; the messages
  cycle through three intents with three different replies, so a swap shows),
- ``seconds`` from the first update to the last reply, ``restart_seconds`` (kill to ready).

PostgreSQL runs in a throwaway schema; SQLite in a temporary directory. Run it by hand (it
takes a minute or two); the figures go in docs. ``run_crash`` is also what
``tests/bot/channels/test_outbox_crash.py`` runs with a small count.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import uvicorn
import yaml
from sqlalchemy import func, select
from sqlalchemy.pool import NullPool

from bot.channels.tables import outbox
from bot.store.database import async_url, create_engine, scratch_schema
from bot.store.tables import inbound_messages

ROOT = Path(__file__).resolve().parent.parent
TEST_BOT = ROOT / "tests" / "bot" / "channels" / "widget_bot"
STANDIN = ROOT / "tests" / "bot" / "channels" / "standins" / "telegram.py"
TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "crash-bench-secret"
WEBHOOK = "/webhooks/telegram/webhook"
# three intents of the test bot, three different replies: a swap of two replies shows
SCRIPT = (
    ("hello", "Welcome to Mariia Hub! How can I help?"),
    ("when are you open", "We are open 8:00-21:00 every day."),
    ("thanks", "You're welcome!"),
)
FIRST_CHAT = 900_000_000
RETRY_EVERY = 0.25


class StandIn(Protocol):
    """What the harness needs from the Bot API stand-in."""

    @property
    def app(self) -> Any: ...

    def sent(self, method: str) -> list[dict[str, Any]]: ...


@dataclass
class CrashConfig:
    """One run: how many updates, how fast, when to kill, which database."""

    messages: int = 1000
    conversations: int = 100
    rate: float = 25.0
    kill_at: float = 0.5
    database: str = "postgresql"
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    settle_seconds: float = 180.0
    lease_seconds: float | None = None  # the outbox default unless given


@dataclass
class CrashReport:
    """What the clients saw (the JSON line)."""

    database: str
    sent: int
    answered: int
    lost: int
    duplicate_replies: int
    other_replies: int  # answered, but not with the scripted reply (see failed_turns)
    failed_turns: int  # inbound messages whose turn raised (the client got the safe apology)
    out_of_order_conversations: int
    seconds: float
    restart_seconds: float
    acknowledged_before_kill: int
    killed: bool
    unfinished_outbox_rows: int
    pending_inbound: int
    rows_attempted_again: int  # outbox rows claimed again after their worker died mid-send
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The one JSON line the benchmark prints."""
        return json.dumps(self.__dict__, sort_keys=False)


def say(text: str) -> None:
    """Progress on stderr (the JSON line alone goes to stdout)."""
    print(f"[crash {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_standin() -> StandIn:
    """The repository's Telegram Bot API stand-in (a test helper module, loaded by path)."""
    spec = importlib.util.spec_from_file_location("telegram_standin", STANDIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module.TelegramStandIn(TOKEN)  # type: ignore[no-any-return]


def update(index: int, conversations: int) -> tuple[int, dict[str, Any], str]:
    """Update ``index`` of the run: its chat, the Bot API JSON, and the reply it should get."""
    chat = FIRST_CHAT + index % conversations
    turn = index // conversations
    text, reply = SCRIPT[turn % len(SCRIPT)]
    person = {"id": chat, "is_bot": False, "first_name": "Client", "language_code": "en"}
    body = {
        "update_id": 500_000 + index,
        "message": {
            "message_id": 1 + turn,
            "from": person,
            "chat": {"id": chat, "first_name": "Client", "type": "private"},
            "date": int(time.time()),
            "text": text,
        },
    }
    return chat, body, reply


@dataclass
class Score:
    """What the clients saw, counted per message."""

    lost: int  # messages without any reply
    duplicates: int  # replies received more often than asked for
    other: int  # replies that are not the scripted one (a failed turn's apology, a misunderstanding)
    disordered: int  # conversations whose replies do not follow their messages' order


def score(expected: dict[int, list[str]], received: dict[int, list[str]]) -> Score:
    """Compare the replies each chat expected (in order) with those the stand-in received."""
    scripted = {reply for _text, reply in SCRIPT}
    total = Score(0, 0, 0, 0)
    for chat, wanted in expected.items():
        got = received.get(chat, [])
        want_count = Counter(wanted)
        got_count = Counter(r for r in got if r in scripted)
        extra = sum(max(0, n - want_count[t]) for t, n in got_count.items())
        total.duplicates += extra
        total.other += sum(1 for r in got if r not in scripted)
        total.lost += max(0, len(wanted) - (len(got) - extra))
        # in order: everything received, duplicates aside, follows the messages' order (an
        # unscripted reply stands for whichever message it answered)
        if _common_subsequence(wanted, got, scripted) < len(got) - extra:
            total.disordered += 1
    return total


def _common_subsequence(a: Sequence[str], b: Sequence[str], scripted: set[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            same = x == y or y not in scripted
            current.append(previous[j] + 1 if same else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


class Server:
    """``concierge run`` on the bench project, as a child process we can SIGKILL."""

    def __init__(self, project: Path, database_url: str, state: Path, log: Path) -> None:
        self.project, self.database_url, self.state, self.log = project, database_url, state, log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "CONCIERGE_DATABASE_URL": self.database_url,
            "CONCIERGE_STATE_DIR": str(self.state),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        command = [
            str(Path(sys.executable).parent / "concierge"),
            "run",
            "--project",
            str(self.project),
            "--model",
            str(self.project / "models"),
            "--port",
            str(self.port),
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)

    async def ready(self, within: float = 900.0) -> None:
        """Wait until ``/health`` answers; a shared machine at load 15-20 needs minutes."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.tail()}")
                try:
                    await client.get("/health")
                    return
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
        raise TimeoutError(f"the server did not answer within {within}s:\n{self.tail()}")

    def tail(self, size: int = 3000) -> str:
        """The end of the server's log."""
        return self.log.read_text(encoding="utf-8", errors="replace")[-size:] if self.log.exists() else ""

    def kill(self) -> None:
        """``kill -9``: no shutdown handler runs."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def prepare_project(target: Path, trained_project: Path | None, api_url: str, config: CrashConfig) -> Path:
    """The test bot (trained) with a ``credentials.yml`` for Telegram at the stand-in."""
    project = target / "project"
    if trained_project is not None:
        shutil.copytree(trained_project, project)
    else:
        from bot.agent import Agent

        shutil.copytree(TEST_BOT, project)
        Agent.load_or_train(project, project / "models")
    credentials: dict[str, Any] = {
        "telegram": {
            "access_token": TOKEN,
            "secret_token": SECRET,
            "base_url": f"{api_url}/bot",
            "base_file_url": f"{api_url}/file/bot",
            # the stand-in has no rate limit of its own; Telegram's 30/s would pace the replies
            "rate_limit": {"per_second": 500, "burst": 100},
        }
    }
    if config.lease_seconds is not None:
        credentials["outbox"] = {"lease_seconds": config.lease_seconds}
    (project / "credentials.yml").write_text(yaml.safe_dump(credentials), encoding="utf-8")
    return project


async def run_crash(
    config: CrashConfig, standin: StandIn, trained_project: Path | None = None
) -> CrashReport:
    """One run of the benchmark (see the module docstring); the report of what clients saw."""
    async with AsyncExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crash-bench-")))
        if config.database == "postgresql":
            schema = await stack.enter_async_context(scratch_schema(config.postgres_url, "crash_bench"))
            database_url = async_url(config.postgres_url, schema=schema).render_as_string(hide_password=False)
        else:
            database_url = f"sqlite:///{work / 'concierge.db'}"
        api_url = await stack.enter_async_context(_serving(standin.app))
        say(f"stand-in at {api_url}; preparing the bot in {work}")
        project = prepare_project(work, trained_project, api_url, config)
        server = Server(project, database_url, work / "state", work / "server.log")
        stack.callback(server.stop)
        server.start()
        await server.ready()
        say(f"server up on {database_url.split('@')[-1]}; streaming {config.messages} updates")
        report = await _stream(config, standin, server, database_url)
    return report


async def _stream(config: CrashConfig, standin: StandIn, server: Server, database_url: str) -> CrashReport:
    queues: dict[int, asyncio.Queue[tuple[dict[str, Any], str] | None]] = {}
    expected: dict[int, list[str]] = {}
    acknowledged = 0
    kill_after = int(config.messages * config.kill_at)
    killed = asyncio.Event()
    restart_seconds = 0.0
    notes: list[str] = []

    async def restart() -> None:
        nonlocal restart_seconds
        began = time.monotonic()
        say(f"kill -9 after {acknowledged} acknowledgements")
        server.kill()
        server.start()
        await server.ready()
        restart_seconds = time.monotonic() - began
        say(f"restarted in {restart_seconds:.1f}s")

    restarting: asyncio.Task[None] | None = None

    async def chat_worker(queue: asyncio.Queue[tuple[dict[str, Any], str] | None]) -> None:
        nonlocal acknowledged, restarting
        async with httpx.AsyncClient(timeout=10.0) as client:
            while (item := await queue.get()) is not None:
                body, _reply = item
                headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                while True:  # Telegram posts an update again until it is acknowledged
                    try:
                        response = await client.post(server.url + WEBHOOK, json=body, headers=headers)
                        if response.status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(RETRY_EVERY)
                acknowledged += 1
                if acknowledged == kill_after and restarting is None and config.kill_at < 1:
                    killed.set()
                    restarting = asyncio.create_task(restart())

    for index in range(config.messages):
        chat, _body, reply = update(index, config.conversations)
        expected.setdefault(chat, []).append(reply)
        queues.setdefault(chat, asyncio.Queue())
    workers = [asyncio.create_task(chat_worker(q)) for q in queues.values()]
    started = time.monotonic()
    for index in range(config.messages):  # a steady stream, whatever the server is doing
        chat, body, reply = update(index, config.conversations)
        await queues[chat].put((body, reply))
        await asyncio.sleep(max(0.0, started + (index + 1) / config.rate - time.monotonic()))
    for queue in queues.values():
        await queue.put(None)
    await asyncio.gather(*workers)
    if restarting is not None:
        await restarting
    say(f"all {config.messages} updates acknowledged; waiting for the replies")
    unfinished, pending, retried, failures, last_reply = await _settle(
        config, standin, database_url, expected
    )
    received: dict[int, list[str]] = {}
    for params in standin.sent("sendMessage"):
        received.setdefault(int(params["chat_id"]), []).append(str(params["text"]))
    seen = score(expected, received)
    short = {reply: str(n) for n, (_text, reply) in enumerate(SCRIPT)}
    for chat, wanted in expected.items():
        got = received.get(chat, [])
        if got != wanted:
            codes = "".join(short.get(r, "?") for r in got)
            say(f"chat {chat}: expected {''.join(short[r] for r in wanted)} got {codes}")
            for reply in got:
                if reply not in short:
                    say(f"  ? = {reply[:100]!r}")
    for error in failures:
        say(f"a turn failed: {error[:200]}")
    if unfinished or pending:
        notes.append(f"gave up waiting after {config.settle_seconds}s")
    return CrashReport(
        database=config.database,
        sent=config.messages,
        answered=config.messages - seen.lost,
        lost=seen.lost,
        duplicate_replies=seen.duplicates,
        other_replies=seen.other,
        failed_turns=len(failures),
        out_of_order_conversations=seen.disordered,
        seconds=round(last_reply - started, 1),
        restart_seconds=round(restart_seconds, 1),
        acknowledged_before_kill=kill_after if killed.is_set() else 0,
        killed=killed.is_set(),
        unfinished_outbox_rows=unfinished,
        pending_inbound=pending,
        rows_attempted_again=retried,
        notes=notes,
    )


async def _settle(
    config: CrashConfig, standin: StandIn, database_url: str, expected: dict[int, list[str]]
) -> tuple[int, int, int, list[str], float]:
    """Wait until nothing more can go out: every inbound message processed, no outbox row
    queued or sending, and the replies asked for received (or ``settle_seconds`` passed).

    Returns the unfinished rows, the unprocessed messages, the rows attempted more than once,
    the errors of failed turns and when the last reply arrived.
    """
    engine = create_engine(database_url, poolclass=NullPool)
    wanted = sum(len(v) for v in expected.values())
    deadline = time.monotonic() + config.settle_seconds
    seen, last_reply = len(standin.sent("sendMessage")), time.monotonic()
    try:
        while True:
            if len(standin.sent("sendMessage")) != seen:
                seen, last_reply = len(standin.sent("sendMessage")), time.monotonic()
            async with engine.connect() as conn:
                unfinished = (
                    await conn.execute(select(func.count()).where(outbox.c.status.in_(["queued", "sending"])))
                ).scalar_one()
                pending = (
                    await conn.execute(select(func.count()).where(inbound_messages.c.status == "received"))
                ).scalar_one()
            if (not unfinished and not pending and seen >= wanted) or time.monotonic() > deadline:
                async with engine.connect() as conn:
                    retried = (
                        await conn.execute(select(func.count()).where(outbox.c.attempts > 1))
                    ).scalar_one()
                    failures = (
                        await conn.execute(
                            select(inbound_messages.c.error).where(inbound_messages.c.status == "failed")
                        )
                    ).scalars()
                    errors = [str(error) for error in failures]
                return int(unfinished), int(pending), int(retried), errors, last_reply
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


class _serving:
    """Serve an ASGI app on loopback in this event loop (the stand-in)."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.server.install_signal_handlers = lambda: None  # type: ignore[attr-defined,method-assign,unused-ignore]
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> str:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the arguments, run once, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--rate", type=float, default=25.0, help="updates per second, all chats together")
    parser.add_argument("--kill-at", type=float, default=0.5, help="fraction acknowledged before SIGKILL")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--postgres-url", default=CrashConfig.postgres_url)
    parser.add_argument(
        "--lease-seconds", type=float, default=None, help="the outbox lease (default: its own)"
    )
    args = parser.parse_args(argv)
    config = CrashConfig(
        messages=args.messages,
        conversations=args.conversations,
        rate=args.rate,
        kill_at=args.kill_at,
        database=args.database,
        postgres_url=args.postgres_url,
        lease_seconds=args.lease_seconds,
    )
    report = asyncio.run(run_crash(config, load_standin()))
    print(report.line())


if __name__ == "__main__":
    main()
