"""Idle widget sockets one ``concierge run`` worker holds, and the memory each one costs.

A real server (``python -m concierge.cli run``, one worker, the demo project, SQLite file)
is started; this process then opens ``--sockets`` widget WebSockets to it
(``/webhooks/widget/ws``), each saying ``hello`` for a session of its own and waiting for
its ``history`` frame (so each is a fully set-up socket: registered for pushes, following
its conversation's live feed), ``--batch`` at a time. The server's resident memory
(``VmRSS`` of its process tree, from ``/proc``) is read before the first socket and after
each step, once the server has been idle for ``--settle`` seconds; memory per socket is the
growth divided by the sockets held. Sockets that failed to open are counted. Then the
sockets are held for ``--hold`` seconds and the server's CPU time over that idle period is
reported (polling would show as CPU).

Both processes raise their open-files limit to the hard limit (a socket is one descriptor
on each side). Prints progress and, on its last line, one JSON object.

    .venv/bin/python -m bench.sockets [--sockets 10000] [--steps 1000,5000,10000] [--model-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
PATH = "/webhooks/widget/ws"


def raise_open_files() -> int:
    """Soft open-files limit up to the hard one; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn may run the app in a child)."""
    found = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for child in children:
            found += tree(int(child))
    return found


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid``'s process tree, KiB."""
    total = 0
    for one in tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid``'s process tree so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for one in tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(base: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{base}/health")).status_code < 500:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready in {seconds}s")
            await asyncio.sleep(1.0)


async def open_socket(url: str, session: str, seconds: float) -> Any:
    """One widget socket past its hello (its history frame received), or None on failure."""
    import websockets

    try:
        ws = await asyncio.wait_for(websockets.connect(url, max_size=2**20, ping_interval=None), seconds)
        await ws.send(json.dumps({"type": "hello", "session_id": session}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), seconds))
            if frame.get("type") == "history":
                return ws
    except Exception:  # counted as a failure; the reason is not the figure
        return None


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    limit = raise_open_files()
    port = free_port()
    state = Path(tempfile.mkdtemp(prefix="bench-sockets-"))
    model_dir = args.model_dir or state / "models"
    env = {
        **os.environ,
        "CONCIERGE_STATE_DIR": str(state),
        "CONCIERGE_CHAT_PER_IP_PER_MINUTE": "0",
        "CONCIERGE_CHAT_PER_SENDER_PER_MINUTE": "0",
    }
    command = [
        sys.executable, "-m", "concierge.cli", "run", "--project", str(args.project),
        "--model", str(model_dir), "--port", str(port),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL)  # noqa: ASYNC220
    base = f"http://127.0.0.1:{port}"
    url = f"ws://127.0.0.1:{port}{PATH}"
    held: list[Any] = []
    failed = 0
    steps: list[dict[str, Any]] = []
    try:
        await wait_ready(base, process, args.ready)
        await asyncio.sleep(args.settle)
        baseline = rss_kib(process.pid)
        print(f"server ready, RSS {baseline / 1024:.1f} MiB, open-files limit {limit}", file=sys.stderr)
        run = uuid.uuid4().hex[:8]
        for target in args.steps:
            started = time.perf_counter()
            while len(held) + failed < target:
                count = min(args.batch, target - len(held) - failed)
                opened = await asyncio.gather(
                    *(open_socket(url, f"{run}{len(held) + failed + i}", args.timeout) for i in range(count))
                )
                held += [ws for ws in opened if ws is not None]
                failed += sum(1 for ws in opened if ws is None)
            seconds = time.perf_counter() - started
            await asyncio.sleep(args.settle)
            rss = rss_kib(process.pid)
            step = {
                "sockets": len(held),
                "failed": failed,
                "server_rss_mib": round(rss / 1024, 1),
                "kib_per_socket": round((rss - baseline) / max(1, len(held)), 2),
                "open_seconds": round(seconds, 1),
            }
            steps.append(step)
            print(json.dumps(step), file=sys.stderr)
        cpu_before = cpu_seconds(process.pid)
        await asyncio.sleep(args.hold)
        idle_cpu = cpu_seconds(process.pid) - cpu_before
        alive = sum(1 for ws in held if ws.state.name == "OPEN")
    finally:
        await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return {
        "baseline_rss_mib": round(baseline / 1024, 1),
        "steps": steps,
        "held_after_idle": alive,
        "idle_seconds": args.hold,
        "idle_server_cpu_seconds": round(idle_cpu, 2),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument("--model-dir", type=Path, default=None, help="reuse a trained model (else trained)")
    parser.add_argument("--steps", type=lambda v: [int(x) for x in v.split(",")], default=[1000, 5000, 10000])
    parser.add_argument("--batch", type=int, default=200, help="sockets opened at once")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one socket may take to open")
    parser.add_argument("--settle", type=float, default=5.0, help="idle seconds before reading RSS")
    parser.add_argument("--hold", type=float, default=30.0, help="idle seconds the CPU is watched for")
    parser.add_argument("--ready", type=float, default=900.0, help="seconds the server may take to start")
    args = parser.parse_args()
    figures = asyncio.run(measure(args))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
