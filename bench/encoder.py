"""MiniLM single-text encode: latency and fidelity of each backend against sentence-transformers.

Backends, all from the bundled all-MiniLM-L6-v2 weights, offline:

* ``torch``: :class:`bot.nlu.embeddings.SentenceEncoder` with ``backend="torch"``
  (sentence-transformers, 1 torch thread) — the reference vectors;
* ``onnx-1t`` / ``onnx-2t``: the ONNX Runtime backend (the encoder's default) with 1 or 2
  intra-op threads;
* ``torch-int8``: sentence-transformers after ``torch.ao.quantization.quantize_dynamic`` on
  every ``nn.Linear`` (int8 weights, dynamic activations).

Each message is encoded alone (one text per call, as the NLU parses and the knowledge base
queries), the encoders' LRU caches are off, and the backends take turns (every message, or
every ``--block`` messages; the order rotating) so that load on the shared machine falls on
all of them alike. The
messages are distinct BANKING77 test queries read from ``../shared/eval/intent``.

    .venv/bin/python -m bench.encoder [--messages 500] [--block 1] [--backends torch,onnx-1t,...]

Prints progress, then one JSON object on its last line: per backend the p50/p99/mean ms
and the mean/min cosine of its vectors to the torch ones, plus the load average.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
BANKING77_TEST = REPO.parent / "shared" / "eval" / "intent" / "banking77" / "banking_data" / "test.csv"
BACKENDS = ("torch", "onnx-1t", "onnx-2t", "torch-int8")
WARMUP = 20

Encode = Callable[[Sequence[str]], np.ndarray]


def messages(count: int, path: Path = BANKING77_TEST, seed: int = 7) -> list[str]:
    """``count`` distinct messages from a ``text,label`` CSV, in a fixed random order."""
    with path.open(newline="", encoding="utf-8") as handle:
        texts = sorted({row[0] for row in list(csv.reader(handle))[1:] if row})
    random.Random(seed).shuffle(texts)
    if len(texts) < count + WARMUP:
        raise SystemExit(f"{path} has only {len(texts)} distinct messages")
    return texts[: count + WARMUP]


def build(name: str) -> Encode:
    """The encode function of backend ``name``, loaded and ready."""
    from bot.nlu.embeddings import SentenceEncoder

    if name == "torch":
        torch_encoder = SentenceEncoder(cache_size=0, backend="torch")
        torch_encoder.model  # noqa: B018 - load now, not inside the first timed call
        return torch_encoder.encode
    if name in ("onnx-1t", "onnx-2t"):
        onnx_encoder = SentenceEncoder(cache_size=0, backend="onnx", threads=int(name[-2]))
        if onnx_encoder.active_backend != "onnx":
            raise SystemExit("the ONNX backend did not load (see the warning above)")
        return onnx_encoder.encode
    if name == "torch-int8":
        return _int8()
    raise SystemExit(f"unknown backend {name!r} ({', '.join(BACKENDS)})")


def _int8() -> Encode:
    import torch
    from sentence_transformers import SentenceTransformer

    from bot.nlu.embeddings import minilm_path

    torch.set_num_threads(1)
    model = SentenceTransformer(str(minilm_path()), device="cpu", local_files_only=True)
    with warnings.catch_warnings():  # torch.ao.quantization warns that it is deprecated
        warnings.simplefilter("ignore")
        quantized: Any = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

    def encode(texts: Sequence[str]) -> np.ndarray:
        vectors = quantized.encode(list(texts), show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), dtype=np.float32)

    return encode


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (what ``uptime`` shows)."""
    return [round(x, 2) for x in os.getloadavg()]


def run(names: Sequence[str], texts: list[str], block: int = 1) -> dict[str, Any]:
    """Time every backend on every text, one text per call, taking turns; compare the vectors.

    The backends take turns every ``block`` messages: 1 spreads load most evenly, but each
    call then finds the caches full of another model's weights; a block of a few dozen
    keeps the turns fair over the run while a backend runs warm, as it would alone.
    """
    encoders = {}
    for name in names:
        started = time.perf_counter()
        encoders[name] = build(name)
        print(f"{name}: loaded in {time.perf_counter() - started:.1f} s", flush=True)
    warm, timed = texts[:WARMUP], texts[WARMUP:]
    for text in warm:
        for encode in encoders.values():
            encode([text])
    load_before = load_average()
    ms: dict[str, list[float]] = {name: [] for name in names}
    vectors: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for number, start in enumerate(range(0, len(timed), block)):
        shift = number % len(names)
        for name in [*names[shift:], *names[:shift]]:
            for text in timed[start : start + block]:
                started = time.perf_counter()
                row = encoders[name]([text])
                ms[name].append((time.perf_counter() - started) * 1000)
                vectors[name].append(row[0])
        if (start + block) // 100 > start // 100:
            print(f"{min(start + block, len(timed))}/{len(timed)} messages", flush=True)
    load_after = load_average()
    reference = np.stack(vectors["torch"]) if "torch" in vectors else None
    figures: dict[str, Any] = {}
    for name in names:
        times = sorted(ms[name])
        entry: dict[str, Any] = {
            "p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(times[min(len(times) - 1, int(0.99 * len(times)))], 2),
            "mean_ms": round(statistics.fmean(times), 2),
        }
        if reference is not None:
            cosines = np.sum(np.stack(vectors[name]) * reference, axis=1)
            entry["cosine_to_torch_mean"] = round(float(cosines.mean()), 8)
            entry["cosine_to_torch_min"] = round(float(cosines.min()), 8)
        figures[name] = entry
    return {
        "messages": len(timed),
        "turn_block": block,
        "source": "banking77 test.csv (distinct texts)",
        "mean_chars": round(statistics.fmean(len(t) for t in timed), 1),
        "backends": figures,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "cpus": os.cpu_count(),
        "versions": _versions(),
    }


def _versions() -> dict[str, str]:
    import onnxruntime
    import sentence_transformers
    import torch

    return {
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "sentence_transformers": sentence_transformers.__version__,
    }


def main(argv: list[str] | None = None) -> None:
    """Parse arguments (``argv``, default the command line), run, print the JSON line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument(
        "--block", type=int, default=1, help="messages a backend encodes before the next takes its turn"
    )
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma list of " + ", ".join(BACKENDS))
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    print(json.dumps(run(names, messages(args.messages), max(1, args.block))))


if __name__ == "__main__":
    main()
