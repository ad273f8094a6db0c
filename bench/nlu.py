"""Intent benchmark: the bot's own NLU pipeline on CLINC150, BANKING77 or any ``text,label`` CSV.

The pipeline is built from a :class:`bot.config.BotConfig` exactly as ``config.yml`` builds
it (classifier ``DIETClassifier`` -> our calibrated linear classifier, ``embeddings``
static | minilm | none) and trained with :meth:`NLUPipeline.train`; nothing here is a
benchmark-only model.

Out-of-scope (OOS) detection, when the data has an OOS label:

* ``threshold``: trained on in-scope data only; the pipeline's own ``FallbackClassifier``
  predicts ``nlu_fallback`` below a confidence threshold, which is chosen on the
  validation split only: ``balanced`` maximises the mean of in-scope accuracy and OOS
  recall on it (so the 30:1 in-scope majority does not make "never fall back" win),
  ``accuracy`` the accuracy over all validation rows with OOS as a class;
* ``class``: the OOS training examples are one more intent, no threshold;
* ``class+threshold``: both.

Both objectives' thresholds are fixed on validation before the test split is scored at
each of them (``--threshold-objective`` picks the headline figures). Latency is the time
of one ``parse`` call per message, each text made unique so the encoder's cache cannot help.

In the same run (unless ``--no-baseline``) a plain baseline is trained on the same rows and
scored on the same split the same way: all-MiniLM-L6-v2 sentence vectors into scikit-learn's
``LogisticRegression`` (``--baseline-C``, default 1.0, scikit-learn's default), its OOS
threshold on the top probability tuned on the same validation split. Its figures are the
``baseline`` object of the JSON line; the shipped default must not be below it anywhere.

    .venv/bin/python -m bench.nlu --dataset clinc150 [--oos-method threshold|class|class+threshold]
    .venv/bin/python -m bench.nlu --dataset banking77 --embeddings default   # config.yml's default
    .venv/bin/python -m bench.nlu --dataset banking77
    .venv/bin/python -m bench.nlu --train TRAIN.csv --test TEST.csv [--val VAL.csv] [--oos-label oos]

Prints progress, then one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.nlu.pipeline import NLUPipeline

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
EVAL = REPO.parent / "shared" / "eval" / "intent"
DATASETS = {
    "clinc150": EVAL / "clinc150" / "data" / "data_full.json",
    "clinc150-oos-plus": EVAL / "clinc150" / "data" / "data_oos_plus.json",
    "banking77": EVAL / "banking77" / "banking_data",
}
CLINC_OOS = "oos"
FALLBACK = "nlu_fallback"
OBJECTIVES = ("balanced", "accuracy")

Pairs = list[tuple[str, str]]


@dataclass
class Splits:
    """A benchmark's splits as (text, label) pairs; ``oos_label`` marks out-of-scope rows."""

    name: str
    train: Pairs
    test: Pairs
    val: Pairs | None = None
    oos_label: str | None = None


def read_csv(path: Path) -> Pairs:
    """(text, label) rows of a CSV with a header; the label is the ``label`` column, or the second."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    text_col = header.index("text") if "text" in header else 0
    label_col = header.index("label") if "label" in header else 1
    return [(r[text_col], r[label_col]) for r in body if len(r) > max(text_col, label_col)]


def load_clinc(path: Path, name: str) -> Splits:
    """CLINC150 (Larson et al. 2019): in-scope splits plus ``oos_*``, OOS labelled ``oos``."""
    data = json.loads(path.read_text(encoding="utf-8"))

    def split(key: str) -> Pairs:
        return [(text, label) for text, label in data[key]]

    return Splits(
        name,
        train=split("train") + split("oos_train"),
        val=split("val") + split("oos_val"),
        test=split("test") + split("oos_test"),
        oos_label=CLINC_OOS,
    )


def load_dataset(args: argparse.Namespace) -> Splits:
    """The splits named by the command line (a dataset name, or CSV files)."""
    if args.dataset:
        default = DATASETS[args.dataset]
        if args.dataset == "banking77":
            folder = Path(args.data_dir) if args.data_dir else default
            return Splits(
                "banking77", train=read_csv(folder / "train.csv"), test=read_csv(folder / "test.csv")
            )
        path = Path(args.data_dir) / default.name if args.data_dir else default
        return load_clinc(path, args.dataset)
    if not (args.train and args.test):
        raise SystemExit("give --dataset, or --train and --test CSV files")
    return Splits(
        Path(args.train).resolve().parent.name,
        train=read_csv(Path(args.train)),
        test=read_csv(Path(args.test)),
        val=read_csv(Path(args.val)) if args.val else None,
        oos_label=args.oos_label,
    )


def bot_config(
    embeddings: str,
    c: float | None = None,
    embedding_weight: float | None = None,
    similarity_weight: float | None = None,
) -> Any:
    """The ``config.yml`` a bot would write for this pipeline (no entity components)."""
    from bot.config import BotConfig, ComponentConfig

    classifier: dict[str, Any] = {"embeddings": embeddings, "entity_recognition": False}
    if c is not None:
        classifier["C"] = c
    if embedding_weight is not None:
        classifier["embedding_weight"] = embedding_weight
    if similarity_weight is not None:
        classifier["similarity_weight"] = similarity_weight
    return BotConfig(
        language="en",
        pipeline=[
            ComponentConfig(name="WhitespaceTokenizer"),
            ComponentConfig(
                name="CountVectorsFeaturizer", params={"analyzer": "word", "min_ngram": 1, "max_ngram": 2}
            ),
            ComponentConfig(
                name="CountVectorsFeaturizer", params={"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}
            ),
            ComponentConfig(name="DIETClassifier", params=classifier),
        ],
    )


def train_pipeline(
    pairs: Pairs,
    embeddings: str,
    c: float | None = None,
    embedding_weight: float | None = None,
    similarity_weight: float | None = None,
    encoder: Any = None,
) -> tuple[NLUPipeline, float]:
    """The bot's NLU pipeline trained on ``pairs``, and the seconds it took (encoder load included);
    ``encoder`` shares a loaded MiniLM (used when ``embeddings`` is minilm)."""
    from bot.nlu.pipeline import NLUPipeline
    from bot.training_data import NLUData, NLUExample

    data = NLUData(examples=[NLUExample(text=t, intent=y) for t, y in pairs])
    started = time.perf_counter()
    pipeline = NLUPipeline.train(
        data, bot_config(embeddings, c, embedding_weight, similarity_weight), encoder=encoder
    )
    return pipeline, time.perf_counter() - started


def top_intents(pipeline: NLUPipeline, texts: list[str]) -> list[tuple[str, float]]:
    """(intent, confidence) per text, parsed in batches, the fallback rule applied if set."""
    out: list[tuple[str, float]] = []
    for start in range(0, len(texts), 256):
        for parse in pipeline.parse_batch(texts[start : start + 256]):
            out.append((parse.intent.name or FALLBACK, parse.intent.confidence))
    return out


def tune_threshold(
    confidences: list[float], is_oos: list[bool], correct: list[bool], objective: str = "balanced"
) -> float:
    """The fallback threshold that scores best on validation.

    ``balanced``: the mean of in-scope accuracy and OOS recall; ``accuracy``: the accuracy
    over all validation rows, OOS counted as a class (Larson et al.'s overall accuracy,
    which with 30 in-scope rows per OOS row favours in-scope accuracy).
    """
    n_in = sum(not o for o in is_oos) or 1
    n_oos = sum(is_oos) or 1
    best, best_score = 0.0, -1.0
    for t in sorted({0.0, *confidences}):
        kept = [c >= t for c in confidences]
        in_hits = sum(k and ok for k, ok, o in zip(kept, correct, is_oos, strict=True) if not o)
        oos_hits = sum(not k or ok for k, ok, o in zip(kept, correct, is_oos, strict=True) if o)
        if objective == "accuracy":
            score = (in_hits + oos_hits) / len(confidences)
        else:
            score = (in_hits / n_in + oos_hits / n_oos) / 2
        if score > best_score:
            best, best_score = t, score
    return best


def latency_ms(pipeline: NLUPipeline, texts: list[str], count: int) -> tuple[float, float]:
    """p50 and p99 ms of single ``parse`` calls on messages the encoder cache has never seen."""
    sample = random.Random(0).sample(texts, min(count, len(texts)))
    for i, text in enumerate(sample[:20]):
        pipeline.parse(f"{text} warm{i}")
    times = []
    for i, text in enumerate(sample):
        fresh = f"{text} q{i}"
        started = time.perf_counter()
        pipeline.parse(fresh)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]


def scores(gold: list[str], predicted: list[str], oos_label: str | None) -> dict[str, float | None]:
    """In-scope accuracy, OOS recall/precision and macro-F1 (every gold label, OOS included)."""
    from sklearn.metrics import f1_score

    predicted = [oos_label if oos_label and p == FALLBACK else p for p in predicted]
    in_scope = [(g, p) for g, p in zip(gold, predicted, strict=True) if g != oos_label]
    result: dict[str, float | None] = {
        "in_scope_accuracy": sum(g == p for g, p in in_scope) / len(in_scope) if in_scope else None,
        "oos_recall": None,
        "oos_precision": None,
        "macro_f1": float(
            f1_score(gold, predicted, labels=sorted(set(gold)), average="macro", zero_division=0)
        ),
    }
    if oos_label:
        flagged = [g for g, p in zip(gold, predicted, strict=True) if p == oos_label]
        actual = sum(g == oos_label for g in gold)
        hits = sum(g == oos_label for g in flagged)
        result["oos_recall"] = hits / actual if actual else None
        result["oos_precision"] = hits / len(flagged) if flagged else None
    return result


class Baseline:
    """A plain MiniLM + logistic regression intent classifier (the comparison point)."""

    def __init__(self, C: float = 1.0, encoder: Any = None) -> None:
        from bot.nlu.embeddings import SentenceEncoder

        self.encoder = encoder if encoder is not None else SentenceEncoder()
        self.C = C
        self.labels: list[str] = []
        self._model: Any = None

    def fit(self, pairs: Pairs) -> float:
        """Train on ``pairs``; the seconds it took (encoding included)."""
        from sklearn.linear_model import LogisticRegression

        started = time.perf_counter()
        X = self.encoder.encode([t for t, _ in pairs])
        self._model = LogisticRegression(C=self.C, max_iter=2000).fit(X, [y for _, y in pairs])
        self.labels = [str(c) for c in self._model.classes_]
        return time.perf_counter() - started

    def top(self, texts: list[str]) -> list[tuple[str, float]]:
        """(label, probability) of the most probable label per text."""
        proba = self._model.predict_proba(self.encoder.encode(texts))
        best = proba.argmax(axis=1)
        return [(self.labels[i], float(proba[r, i])) for r, i in enumerate(best)]


def run_baseline(
    splits: Splits, method: str, C: float, latency_count: int, objective: str, encoder: Any = None
) -> dict[str, Any]:
    """The baseline on the same rows, OOS handled by the same method, scored the same way
    (``encoder``: a MiniLM already loaded, whose cache then holds the texts encoded once)."""
    oos = splits.oos_label
    as_class = bool(oos) and method.startswith("class")
    thresholded = bool(oos) and method.endswith("threshold")
    train = [(t, y) for t, y in splits.train if as_class or y != oos]
    print(
        f"{splits.name}: baseline (MiniLM + logistic regression, C={C}) on {len(train)} examples", flush=True
    )
    model = Baseline(C, encoder)
    train_seconds = model.fit(train)
    print(f"  trained in {train_seconds:.1f}s", flush=True)
    threshold = 0.0
    if thresholded and splits.val:
        predicted = model.top([t for t, _ in splits.val])
        is_oos = [y == oos for _, y in splits.val]
        correct = [p == y for (p, _), (_, y) in zip(predicted, splits.val, strict=True)]
        confidences = [0.0 if p == oos else conf for p, conf in predicted]
        threshold = tune_threshold(confidences, is_oos, correct, objective)
        print(f"  baseline threshold tuned on validation ({objective}): {threshold:.4f}", flush=True)
    test_texts, gold = [t for t, _ in splits.test], [y for _, y in splits.test]
    predicted = [p if conf >= threshold else FALLBACK for p, conf in model.top(test_texts)]
    result: dict[str, Any] = {"model": "MiniLM + LogisticRegression", "C": C}
    result.update(scores(gold, predicted, oos))
    sample = random.Random(0).sample(test_texts, min(latency_count, len(test_texts)))
    times = []
    for i, text in enumerate(sample):
        started = time.perf_counter()
        model.top([f"{text} q{i}"])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    result.update(
        {
            "train_seconds": round(train_seconds, 1),
            "latency_ms_p50": round(statistics.median(times), 2),
            "latency_ms_p99": round(times[min(len(times) - 1, round(0.99 * (len(times) - 1)))], 2),
            "fallback_threshold": threshold if thresholded else None,
        }
    )
    return result


def run(
    splits: Splits,
    embeddings: str,
    method: str,
    c: float | None,
    latency_count: int,
    objective: str = "balanced",
    embedding_weight: float | None = None,
    similarity_weight: float | None = None,
    encoder: Any = None,
) -> dict[str, Any]:
    """Train, tune the threshold on validation if asked, score the test split once."""
    from bot.nlu.fallback import FallbackClassifier

    oos = splits.oos_label
    as_class = bool(oos) and method.startswith("class")
    thresholded = bool(oos) and method.endswith("threshold")
    train = [(t, y) for t, y in splits.train if as_class or y != oos]
    print(f"{splits.name}: training on {len(train)} examples ({embeddings} embeddings)", flush=True)
    pipeline, train_seconds = train_pipeline(
        train, embeddings, c, embedding_weight, similarity_weight, encoder
    )
    print(f"  trained in {train_seconds:.1f}s", flush=True)
    thresholds: dict[str, float] = {}
    if thresholded:
        if not splits.val:
            raise SystemExit("the threshold method needs a validation split (--val)")
        val_texts = [t for t, _ in splits.val]
        predicted = top_intents(pipeline, val_texts)
        is_oos = [y == oos for _, y in splits.val]
        correct = [p == y for (p, _), (_, y) in zip(predicted, splits.val, strict=True)]
        # An OOS-class prediction is a fallback already; the threshold adds to it.
        confidences = [0.0 if p == oos else conf for p, conf in predicted]
        for name in (objective, *(o for o in OBJECTIVES if o != objective)):
            thresholds[name] = tune_threshold(confidences, is_oos, correct, name)
            print(f"  fallback threshold tuned on validation ({name}): {thresholds[name]:.4f}", flush=True)
    test_texts, gold = [t for t, _ in splits.test], [y for _, y in splits.test]
    result: dict[str, Any] = {"dataset": splits.name}
    others: dict[str, Any] = {}
    # The headline objective last, so the latency is measured with its fallback rule in place.
    for name in [*(o for o in thresholds if o != objective), *([objective] if thresholds else [])]:
        pipeline.model.spec.fallback = FallbackClassifier(
            threshold=thresholds[name], ambiguity_threshold=None
        )
        figures = scores(gold, [p for p, _ in top_intents(pipeline, test_texts)], oos)
        others[name] = {"fallback_threshold": thresholds[name], **figures}
    if thresholded:
        result.update({k: v for k, v in others.pop(objective).items() if k != "fallback_threshold"})
    else:
        result.update(scores(gold, [p for p, _ in top_intents(pipeline, test_texts)], oos))
    p50, p99 = latency_ms(pipeline, test_texts, latency_count)
    result.update(
        {
            "train_seconds": round(train_seconds, 1),
            "latency_ms_p50": round(p50, 2),
            "latency_ms_p99": round(p99, 2),
            "embeddings": embeddings,
            "oos_method": method if oos else None,
            "fallback_threshold": thresholds.get(objective),
            "threshold_objective": objective if thresholds else None,
            "other_objectives": others or None,
            "embedding_weight": pipeline.model.spec.classifier.block_weight,
            "similarity_weight": pipeline.model.spec.classifier.typicality_weight,
            "C": pipeline.model.spec.classifier.C,
            "train_examples": len(train),
            "test_examples": len(splits.test),
        }
    )
    return result


def main(argv: list[str] | None = None) -> None:
    """Parse arguments (``argv``, default the command line), run the benchmark, print the JSON line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=sorted(DATASETS))
    parser.add_argument(
        "--data-dir", help="folder holding the dataset's files (default: ../shared/eval/intent)"
    )
    parser.add_argument("--train", help="training CSV (text,label)")
    parser.add_argument("--test", help="test CSV (text,label)")
    parser.add_argument("--val", help="validation CSV (text,label); tunes the OOS threshold")
    parser.add_argument("--oos-label", help="the label of out-of-scope rows in the CSV files")
    parser.add_argument(
        "--embeddings",
        choices=["default", "static", "minilm", "none"],
        default="default",
        help="the classifier's sentence embeddings (default: the shipped default, bot.nlu.spec)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the MiniLM + LR baseline")
    parser.add_argument("--baseline-C", type=float, default=1.0, help="the baseline's regularisation")
    parser.add_argument(
        "--oos-method", choices=["threshold", "class", "class+threshold"], default="threshold"
    )
    parser.add_argument(
        "--C", type=float, default=None, help="classifier regularisation (default: the pipeline's)"
    )
    parser.add_argument(
        "--embedding-weight",
        type=float,
        default=None,
        help="weight of the sentence-embedding block (default: the pipeline's)",
    )
    parser.add_argument(
        "--similarity-weight",
        type=float,
        default=None,
        help="how much an atypical message loses confidence, 0 = off (default: the pipeline's)",
    )
    parser.add_argument(
        "--threshold-objective",
        choices=OBJECTIVES,
        default="balanced",
        help="what the validation split maximises when choosing the OOS threshold",
    )
    parser.add_argument("--latency-messages", type=int, default=500)
    args = parser.parse_args(argv)
    splits = load_dataset(args)
    from bot.nlu.spec import DEFAULT_EMBEDDINGS

    embeddings = DEFAULT_EMBEDDINGS if args.embeddings == "default" else args.embeddings
    encoder = None
    if embeddings == "minilm" or not args.no_baseline:
        from bot.nlu.embeddings import SentenceEncoder

        # one MiniLM for both models: texts are encoded once (the latency figures use fresh texts)
        encoder = SentenceEncoder(cache_size=200_000)
    result = run(
        splits,
        embeddings,
        args.oos_method,
        args.C,
        args.latency_messages,
        args.threshold_objective,
        args.embedding_weight,
        args.similarity_weight,
        encoder,
    )
    if not args.no_baseline:
        result["baseline"] = run_baseline(
            splits, args.oos_method, args.baseline_C, args.latency_messages, args.threshold_objective, encoder
        )
        ours, theirs = _headline(result), _headline(result["baseline"])
        result["default_minus_baseline"] = {
            k: round(ours[k] - theirs[k], 4)
            for k in ours
            if ours[k] is not None and theirs.get(k) is not None
        }
    print(json.dumps(result))


def _headline(figures: dict[str, Any]) -> dict[str, float | None]:
    return {k: figures.get(k) for k in ("in_scope_accuracy", "oos_recall", "macro_f1")}


if __name__ == "__main__":
    main()
