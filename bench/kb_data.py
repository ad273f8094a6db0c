"""Inputs for ``bench/kb.py``: the demo knowledge base, and a large synthetic corpus.

    .venv/bin/python -m bench.kb_data demo --out /tmp/kb       # kb_demo_docs.jsonl, kb_demo_queries.jsonl
    .venv/bin/python -m bench.kb_data synthetic --chunks 100000 --out /tmp/kb

``demo``: every article of ``data/knowledge`` as a doc (with its tags and curated answer) and the
paraphrased client questions of ``bench/kb_demo_queries.yml`` (written apart from the
golden questions the thresholds were tuned on; a fifth of them have no answer).
``synthetic``: ``--chunks`` one-chunk docs built from a seeded generator (a studio service,
place, topic and price, then words drawn Zipf-like from the demo articles' vocabulary),
with queries made of some of a doc's words in another order, plus queries about things
no doc mentions. It exists to measure latency at scale; its quality figures mean little.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
DEMO_DATE = "2026-12-10"  # inside the holiday and winter-offer articles' validity


def write_jsonl(path: Path, rows: list[dict]) -> None:  # type: ignore[type-arg]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def demo(out: Path) -> tuple[Path, Path]:
    """The demo articles and the held-apart paraphrased queries."""
    from knowledge.markdown import load_articles

    docs = []
    for article in load_articles(REPO / "data" / "knowledge"):
        doc: dict[str, object] = {
            "id": article.id,
            "title": article.title,
            "text": article.body,
            "language": article.language,
            "tags": article.tags,
        }
        if article.answer:
            doc["answer"] = article.answer
        if article.valid_from:
            doc["valid_from"] = article.valid_from.isoformat()
        if article.valid_to:
            doc["valid_to"] = article.valid_to.isoformat()
        docs.append(doc)
    raw = yaml.safe_load((REPO / "bench" / "kb_demo_queries.yml").read_text(encoding="utf-8"))["queries"]
    queries = []
    for item in raw:
        ids = item["doc"] if isinstance(item["doc"], list) else [item["doc"]]
        row: dict[str, object] = {
            "query": item["q"],
            "doc_id": ids[0],
            "language": item.get("lang", "en"),
            "date": DEMO_DATE,
        }
        if len(ids) > 1:
            row["alt_doc_ids"] = ids[1:]
        queries.append(row)
    docs_path, queries_path = out / "kb_demo_docs.jsonl", out / "kb_demo_queries.jsonl"
    write_jsonl(docs_path, docs)
    write_jsonl(queries_path, queries)
    return docs_path, queries_path


SERVICES = [
    "manicure",
    "pedicure",
    "balayage",
    "haircut",
    "blow-dry",
    "lash extensions",
    "brow lamination",
    "facial",
    "chemical peel",
    "microneedling",
    "massage",
    "personal training",
    "reformer class",
    "keratin smoothing",
    "gel removal",
    "lash lift",
    "hair colour",
    "body analysis",
    "sauna",
    "nail art",
]
PLACES = ["Mokotów", "Śródmieście", "Kazimierz", "Wilanów", "Żoliborz", "Praga", "Podgórze", "Nowa Huta"]
ASPECTS = [
    "price",
    "duration",
    "aftercare",
    "booking",
    "cancellation",
    "deposit",
    "availability",
    "voucher",
    "parking",
    "opening hours",
    "specialist level",
    "membership discount",
    "patch test",
    "refund",
]
ABSENT = [
    "tattoo",
    "dentist",
    "swimming pool",
    "wig",
    "piercing",
    "taxi",
    "football",
    "weather",
    "cryotherapy",
    "botox",
    "sunbed",
    "dog grooming",
    "car wash",
    "pharmacy",
    "bicycle repair",
]


def _vocabulary(words_from: Path) -> list[str]:
    """Real words (the demo articles' own), so texts tokenise like client-facing prose."""
    from knowledge.markdown import load_articles

    words: set[str] = set()
    for article in load_articles(words_from):
        if article.language == "en":
            words.update(w.strip(".,:;()|*#-").lower() for w in f"{article.body} {article.answer}".split())
    return sorted(w for w in words if w.isalpha() and len(w) > 2)


def synthetic(out: Path, chunks: int, query_count: int, seed: int = 7) -> tuple[Path, Path]:
    """``chunks`` one-chunk docs and ``query_count`` queries (a tenth of them unanswerable)."""
    rng = random.Random(seed)
    vocab = _vocabulary(REPO / "data" / "knowledge")
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(vocab))]
    rng.shuffle(vocab)  # which words are common is random, not alphabetical

    docs = []
    for i in range(chunks):
        service, place, aspect = rng.choice(SERVICES), rng.choice(PLACES), rng.choice(ASPECTS)
        words = rng.choices(vocab, weights=weights, k=18)
        price = rng.randrange(60, 2000, 10)
        text = f"{service.capitalize()} in {place}, {aspect}: {price} PLN. " + " ".join(words) + "."
        docs.append({"id": f"syn-{i:06d}", "title": f"{service} {aspect} {place} {words[0]}", "text": text})
    queries = []
    for _ in range(query_count):
        if rng.random() < 0.1:
            queries.append(
                {"query": f"do you have {rng.choice(ABSENT)} near {rng.choice(PLACES)}?", "doc_id": None}
            )
            continue
        doc = rng.choice(docs)
        words = doc["text"].rstrip(".").split(": ", 1)[1].split()[2:]
        picked = rng.sample(words, 5)
        service = doc["title"].split()[0]
        queries.append({"query": f"{service} {' '.join(picked)}?", "doc_id": doc["id"]})
    docs_path, queries_path = (
        out / f"kb_synthetic_{chunks}_docs.jsonl",
        out / f"kb_synthetic_{chunks}_queries.jsonl",
    )
    write_jsonl(docs_path, docs)
    write_jsonl(queries_path, queries)
    return docs_path, queries_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="build inputs for bench/kb.py")
    sub = parser.add_subparsers(dest="kind", required=True)
    d = sub.add_parser("demo")
    d.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("synthetic")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--chunks", type=int, default=100_000)
    s.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.kind == "demo":
        paths = demo(args.out)
    else:
        paths = synthetic(args.out, args.chunks, args.queries)
    print(json.dumps({"docs": str(paths[0]), "queries": str(paths[1])}))


if __name__ == "__main__":
    main()
