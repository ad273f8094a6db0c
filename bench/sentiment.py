"""Sentiment benchmark: our pipeline on XLM-T's UMSAB tweets (8 languages).

Trains :class:`bot.sentiment.SentimentModel` exactly as the bot does, on the training
split of each language ("mono") and on the pooled training split of all eight
("multi"), and reports macro-F1 on the test splits. XLM-T's published figure to beat is
69.4 macro-F1 "All lang." for XLM-Tw multi, which is the mean of the eight per-language
scores; the pooled test set's own macro-F1 is shown beside it. The validation split
only picks the regularisation strength (``--tune``); the test split is read once.

The data is read from ``--data-dir`` (default ``../shared/eval/sentiment/xlm-t`` beside
the repository) and never copied into the repository.

    .venv/bin/python -m bench.sentiment [--variants ngrams,minilm,static] [--tune] [--setting multi]

Prints a table and, on its last line, one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.sentiment import Encoder, SentimentModel

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "eval" / "sentiment" / "xlm-t"
LANGUAGES = ["arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish"]
XLMT_LABELS = {"0": "negative", "1": "neutral", "2": "positive"}
PUBLISHED = {
    "XLM-Tw multi (all lang.)": 69.4,
    "XLM-Tw mono (all lang.)": 66.8,
    "FastText mono (all lang.)": 51.0,
}
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def read_split(data_dir: Path, language: str, split: str) -> tuple[list[str], list[str]]:
    """Texts and labels of one split; the files escape non-ASCII as literal ``\\uXXXX``."""
    folder = data_dir / "data" / "sentiment" / language
    texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / f"{split}_labels.txt").read_text(encoding="utf-8").splitlines()
    if len(texts) != len(labels):
        raise SystemExit(f"{folder}: {split} has {len(texts)} texts and {len(labels)} labels")
    texts = [_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), t) for t in texts]
    return texts, [XLMT_LABELS[label.strip()] for label in labels]


def make_encoder(variant: str) -> Encoder | None:
    """The injected encoder for a variant (None for plain n-grams)."""
    if variant == "ngrams":
        return None
    from bot.nlu.embeddings import SentenceEncoder, StaticEncoder

    if variant == "minilm":
        return SentenceEncoder(cache_size=50_000)  # C tuning re-encodes the same texts
    if variant == "static":
        return StaticEncoder.distilled()
    raise SystemExit(f"unknown variant {variant!r} (ngrams, minilm, static)")


def train(
    texts: list[str], labels: list[str], c: float, encoder: Encoder | None, weight: float
) -> SentimentModel:
    """The bot's sentiment pipeline fitted on one split."""
    from bot.sentiment import SentimentExample, SentimentModel, SentimentOptions

    examples = [SentimentExample(text=t, label=y) for t, y in zip(texts, labels, strict=True)]  # type: ignore[arg-type]
    return SentimentModel.train(
        examples, options=SentimentOptions(c=c, embedding_weight=weight), encoder=encoder
    )


def macro_f1(model: SentimentModel, texts: list[str], labels: list[str]) -> float:
    """Macro-F1 (percent) of ``model`` on texts and labels."""
    from bot.sentiment.data import scores

    return scores(labels, model.predict(texts)).macro_f1 * 100


def ms_per_message(model: SentimentModel, texts: list[str], count: int = 300) -> tuple[float, float]:
    """Median and p95 ms of scoring one message at a time (as the bot does per turn).

    Each text gets a unique suffix so an encoder's cache (which has seen the test set
    by now) cannot answer from memory: this is the cost of a message never seen before.
    """
    for i, text in enumerate(texts[:10]):
        model.score(f"{text} #warm{i}")
    times = []
    for i, text in enumerate(texts[10 : 10 + count]):
        fresh = f"{text} #{i}"
        started = time.perf_counter()
        model.score(fresh)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def tune_c(data_dir: Path, encoder: Encoder | None, weight: float, grid: list[float]) -> float:
    """The C with the best pooled validation macro-F1 (train on 'all', score on 'all' val)."""
    texts, labels = read_split(data_dir, "all", "train")
    val_texts, val_labels = read_split(data_dir, "all", "val")
    best, best_f1 = grid[0], -1.0
    for c in grid:
        f1 = macro_f1(train(texts, labels, c, encoder, weight), val_texts, val_labels)
        print(f"  tune C={c:g}: val macro-F1 {f1:.1f}", flush=True)
        if f1 > best_f1:
            best, best_f1 = c, f1
    return best


def run_variant(
    data_dir: Path, variant: str, settings: list[str], c: float, weight: float, tune: bool
) -> dict[str, Any]:
    """Tune (optionally), train and score one variant in the chosen settings."""
    encoder = make_encoder(variant)
    if tune:
        c = tune_c(data_dir, encoder, weight, [0.5, 1.0, 2.0, 4.0, 8.0])
    result: dict[str, Any] = {"variant": variant, "C": c, "embedding_weight": weight if encoder else None}
    tests = {lang: read_split(data_dir, lang, "test") for lang in LANGUAGES}
    if "multi" in settings:
        started = time.perf_counter()
        texts, labels = read_split(data_dir, "all", "train")
        model = train(texts, labels, c, encoder, weight)
        train_s = time.perf_counter() - started
        per = {lang: macro_f1(model, *tests[lang]) for lang in LANGUAGES}
        pooled = macro_f1(model, *read_split(data_dir, "all", "test"))
        median, p95 = ms_per_message(model, tests["english"][0] + tests["spanish"][0])
        result["multi"] = {
            "per_language": per,
            "mean_of_languages": statistics.mean(per.values()),
            "pooled_test": pooled,
            "train_seconds": train_s,
            "ms_per_message_median": median,
            "ms_per_message_p95": p95,
        }
    if "mono" in settings:
        per = {}
        for lang in LANGUAGES:
            model = train(*read_split(data_dir, lang, "train"), c, encoder, weight)
            per[lang] = macro_f1(model, *tests[lang])
        result["mono"] = {"per_language": per, "mean_of_languages": statistics.mean(per.values())}
    return result


def print_table(results: list[dict[str, Any]]) -> None:
    """A per-language table of every variant and setting, then the published figures."""
    columns = [(r["variant"], s) for r in results for s in ("mono", "multi") if s in r]
    header = f"{'macro-F1':<12}" + "".join(f"{v + ' ' + s:>18}" for v, s in columns)
    print(header)
    by_variant = {r["variant"]: r for r in results}
    for lang in [*LANGUAGES, "mean (all lang.)"]:
        cells = []
        for variant, setting in columns:
            block = by_variant[variant][setting]
            value = block["mean_of_languages"] if lang.startswith("mean") else block["per_language"][lang]
            cells.append(f"{value:>18.1f}")
        print(f"{lang:<12}" + "".join(cells))
    for r in results:
        if "multi" in r:
            m = r["multi"]
            print(
                f"{r['variant']}: pooled test macro-F1 {m['pooled_test']:.1f}, C={r['C']:g}, "
                f"train {m['train_seconds']:.1f}s, {m['ms_per_message_median']:.2f} ms/message "
                f"(p95 {m['ms_per_message_p95']:.2f})"
            )
    for name, value in PUBLISHED.items():
        print(f"published {name}: {value}")


def run_project(project_dir: Path) -> None:
    """Train the project's sentiment model as the bot does and score its held-apart set."""
    from bot.sentiment.project import ProjectSentiment

    started = time.perf_counter()
    project = ProjectSentiment.train(project_dir)
    train_s = time.perf_counter() - started
    if project is None or project.report is None:
        raise SystemExit(f"{project_dir} has no data/sentiment/train.csv and test.csv")
    report = project.report
    texts = [f"{t} {i}" for i, t in enumerate(["thanks, see you on Friday", "this is not ok"] * 250)]
    timings = []
    for text in texts:
        t0 = time.perf_counter()
        project.score(text)
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    figures = {
        "held_apart": report.overall.count,
        "accuracy": round(report.overall.accuracy, 3),
        "macro_f1": round(report.overall.macro_f1, 3),
        "per_language_macro_f1": {k: round(v.macro_f1, 3) for k, v in report.per_language.items()},
        "train_seconds": round(train_s, 2),
        "ms_per_message_p50": round(timings[len(timings) // 2], 3),
    }
    print(json.dumps({"project_sentiment": figures}))


def main() -> None:
    """Parse arguments, run the variants, print the table and the JSON line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--variants", default="ngrams", help="comma list of ngrams, minilm, static")
    parser.add_argument("--setting", default="mono,multi", help="comma list of mono, multi")
    parser.add_argument(
        "--c", type=float, default=None, help="regularisation strength (default: model default)"
    )
    parser.add_argument("--embedding-weight", type=float, default=1.0)
    parser.add_argument("--tune", action="store_true", help="pick C on the validation split")
    parser.add_argument(
        "--project",
        type=Path,
        default=None,
        help="instead: the project's own model (trained on DIR/data/sentiment/train.csv as "
        "`concierge train` does) on its held-apart DIR/data/sentiment/test.csv",
    )
    args = parser.parse_args()
    if args.project is not None:
        run_project(args.project)
        return
    if not (args.data_dir / "data" / "sentiment" / "all").is_dir():
        raise SystemExit(f"XLM-T data not found under {args.data_dir} (use --data-dir)")
    from bot.sentiment import SentimentOptions

    c = args.c if args.c is not None else SentimentOptions().c
    settings = [s.strip() for s in args.setting.split(",") if s.strip()]
    results = []
    for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
        print(f"== {variant}", flush=True)
        results.append(run_variant(args.data_dir, variant, settings, c, args.embedding_weight, args.tune))
    print_table(results)
    print(json.dumps({"sentiment_benchmark": results, "published": PUBLISHED}))


if __name__ == "__main__":
    main()
