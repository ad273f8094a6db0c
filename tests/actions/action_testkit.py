"""Helpers shared by the action tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from actions.registry import ActionRegistry
from bot.domain import ACTION_EXTRACT_SLOTS, ACTION_LISTEN
from bot.errors import ActionRejected
from bot.events import (
    ActionExecuted,
    ActionExecutionRejected,
    BotUttered,
    EntityValue,
    Event,
    IntentPrediction,
    ParseData,
    UserUttered,
)
from bot.tracker import Tracker


def user_message(
    text: str,
    intent: str | None,
    entities: list[dict[str, Any]] | None = None,
    *,
    confidence: float = 1.0,
    ranking: list[tuple[str, float]] | None = None,
    response_selector: dict[str, Any] | None = None,
) -> UserUttered:
    """A parsed client message, as the NLU pipeline would produce it."""
    parse = ParseData(
        text=text,
        intent=IntentPrediction(name=intent, confidence=confidence),
        entities=[EntityValue(**e) for e in entities or []],
        intent_ranking=[IntentPrediction(name=n, confidence=c) for n, c in ranking or [(intent, confidence)]],
        response_selector=response_selector,
    )
    return UserUttered(text=text, parse_data=parse, input_channel="rest")


class Conversation:
    """One conversation driven the way ``bot.engine.Engine`` drives it: the client's
    message, ``action_extract_slots``, then actions whose events are applied after an
    ``ActionExecuted`` (or an ``ActionExecutionRejected`` when they refuse)."""

    def __init__(self, registry: ActionRegistry, channel: str = "rest", sender_id: str = "client-1") -> None:
        self.registry = registry
        self.domain = registry.domain
        self.nlg = registry.nlg
        self.channel = channel
        self.tracker = Tracker.for_domain(sender_id, self.domain, [ActionExecuted(name=ACTION_LISTEN)])

    def apply(self, events: list[Event]) -> None:
        for event in events:
            self.tracker.update(event)

    async def say(
        self, text: str, intent: str | None, entities: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> list[Event]:
        """The client's message plus slot extraction; returns the extraction's events."""
        self.apply([user_message(text, intent, entities, **kwargs)])
        extracted = await self.registry.get(ACTION_EXTRACT_SLOTS).run(
            self.tracker, self.domain, self.nlg, self.channel
        )
        self.apply(extracted)
        return extracted

    async def run(self, name: str) -> list[Event]:
        """Run an action as the engine does; returns the events it added to the tracker."""
        try:
            events = await self.registry.get(name).run(self.tracker, self.domain, self.nlg, self.channel)
        except ActionRejected:
            rejected: list[Event] = [ActionExecutionRejected(name=name)]
            self.apply(rejected)
            return rejected
        if any(isinstance(e, ActionExecutionRejected) for e in events):
            self.apply(events)
            return events
        added: list[Event] = [ActionExecuted(name=name), *events]
        self.apply(added)
        return added

    async def listen(self) -> None:
        await self.run(ACTION_LISTEN)


def texts(events: list[Event]) -> list[str | None]:
    """What the client reads: the text of each bot message."""
    return [e.text for e in events if isinstance(e, BotUttered)]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def rasa_sdk_server(python: Path, actions_module: str, cwd: Path, log_path: Path) -> Iterator[str]:
    """The REAL rasa-sdk action server (``python -m rasa_sdk``) serving ``actions_module``
    from ``cwd``; yields its webhook URL. Fails the test, never skips, if it cannot start."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(python), "-m", "rasa_sdk", "--actions", actions_module, "--port", str(port)],
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # the server forks workers: stop the whole group at the end
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"rasa-sdk action server exited ({process.returncode}):\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"rasa-sdk action server not healthy after 120s:\n{log_path.read_text()}")
            time.sleep(0.3)
        yield f"{base}/webhook"
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
