"""Long-input benchmark: one ``Agent.parse`` (NLU + sentiment) per input length and shape.

A chat message can be anything a client (or an attacker) sends; the cost of
understanding it must grow at most linearly with its length, and the channels cap
the text anyway (``CONCIERGE_MAX_MESSAGE_CHARS``). This prints, for 1k, 20k and 150k
characters, the time of one parse of a single long word, of ordinary words and of
digits, so a quadratic step shows up as a jump between rows.

    .venv/bin/python -m bench.long_input [--model-dir DIR] [--lengths 1000,20000,150000]
        [--shapes one_word,words,digits]

The model is the project's own (``Agent.load_or_train``; trained once if missing).
Prints one line per input and, on its last line, one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SHAPES = {
    "one_word": lambda n: ("abcdefghij" * (n // 10 + 1))[:n],
    "words": lambda n: ("please book me a manicure tomorrow " * (n // 35 + 1))[:n],
    "digits": lambda n: ("0123456789" * (n // 10 + 1))[:n],
}


def main() -> None:
    """Parse each shape at each length once (after one warm-up parse) and print the seconds."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--lengths", default="1000,20000,150000")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="which inputs, comma-separated")
    args = parser.parse_args()
    from bot.agent import Agent

    agent = Agent.load_or_train(args.project, args.model_dir or args.project / "models")
    agent.parse("hello")  # warm-up: lazy tokenizers, the language identifier
    figures: dict[str, dict[str, float]] = {}
    for shape in args.shapes.split(","):
        make = SHAPES[shape]
        for length in (int(x) for x in args.lengths.split(",")):
            text = make(length)
            start = time.perf_counter()
            agent.parse(text)
            seconds = time.perf_counter() - start
            figures.setdefault(shape, {})[str(length)] = round(seconds, 4)
            print(f"{shape:>9} {length:>7} chars  {seconds:8.3f} s", flush=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
