"""Retrieval benchmark for the knowledge base.

    .venv/bin/python -m bench.kb --docs DOCS.jsonl --queries QUERIES.jsonl

Each doc line is ``{"id", "title", "text"}`` (optional: ``language``, ``valid_from``,
``valid_to``, ``tags``, ``answer``: a curated short answer); each query line is
``{"query", "doc_id"}`` with ``doc_id`` null when no doc answers it (optional:
``language``, ``date``, ``alt_doc_ids`` - other docs that also count as right). The docs
are ingested into a fresh in-memory Chroma store (or ``--chroma-url`` / ``--persist``);
every query then goes through the same retrieval and confidence guard the bot uses. Ranks
are by doc (a doc's best chunk). The last line printed is one JSON object: top1, top5,
mrr (over answerable queries), no_answer_precision and no_answer_recall (null without
unanswerable queries), latency_ms_p50 and latency_ms_p99 (retrieval: query embedding,
dense + BM25 search, fusion).

Baselines in the same run, on the same queries and labels (``--no-baselines`` skips them):
``minilm_chunks`` is plain MiniLM, exact cosine over the very vectors indexed for the
chunks (no BM25, no coverage, no fusion, no guard); ``minilm_titles`` is plain MiniLM over
one encoding of each doc's title alone (only up to ``--title-baseline-max`` docs). Both
see what the shipped path sees: chunks/docs in the question's language or the default
language, valid on the question's day. Their top1/top5/MRR are printed beside the
shipped path's and added to the JSON under ``baselines``.

Build the inputs with ``python -m bench.kb_data demo|synthetic``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def read_jsonl(path: Path) -> list[dict]:  # type: ignore[type-arg]
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def safe_id(raw: str, taken: set[str]) -> str:
    """An article id for an arbitrary doc id (ours allow letters, digits and ``._:-``)."""
    base = re.sub(r"[^A-Za-z0-9._:-]", "_", str(raw))[:100] or "doc"
    if not base[0].isalnum():
        base = "d" + base
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}~{n}".replace("~", "-")
    taken.add(candidate)
    return candidate


class Ranking:
    """Hit counts for one arm (ranks by doc, as the shipped path's are)."""

    def __init__(self) -> None:
        self.top1 = self.top5 = self.answerable = 0
        self.reciprocal = 0.0

    def add(self, ranked: list[str], right: set[str]) -> None:
        self.answerable += 1
        rank = next((i for i, d in enumerate(ranked, start=1) if d in right), None)
        self.top1 += rank == 1
        self.top5 += rank is not None and rank <= 5
        self.reciprocal += 1 / rank if rank else 0.0

    def figures(self) -> dict[str, float | None]:
        n = self.answerable
        return {
            "top1": round(self.top1 / n, 4) if n else None,
            "top5": round(self.top5 / n, 4) if n else None,
            "mrr": round(self.reciprocal / n, 4) if n else None,
        }


class PlainMiniLM:
    """Exact cosine top-k over fixed MiniLM vectors, one doc id per row, with the language
    and validity filter the shipped path applies; nothing else."""

    def __init__(
        self, vectors: np.ndarray, doc_ids: list[str], languages: list[str], spans: list[tuple[int, int]]
    ) -> None:
        self.vectors = vectors.astype(np.float32)
        self.doc_ids = np.array(doc_ids, dtype=object)
        self.languages = np.array(languages)
        self.starts = np.array([a for a, _ in spans], dtype=np.int64)
        self.ends = np.array([b for _, b in spans], dtype=np.int64)

    def rank(self, vector: np.ndarray, languages: set[str], day: int, k: int = 10) -> list[str]:
        visible = np.isin(self.languages, list(languages)) & (self.starts <= day) & (self.ends >= day)
        cosine = np.where(visible, self.vectors @ vector, -np.inf)
        order = np.argsort(-cosine)[: k * 4]
        ranked = [str(self.doc_ids[i]) for i in order if np.isfinite(cosine[i])]
        return list(dict.fromkeys(ranked))[:k]


def chunk_baseline(store: object, back: dict[str, str]) -> PlainMiniLM:
    """Plain MiniLM over the vectors the store indexed for its chunks (read back from Chroma)."""
    from knowledge.chroma_store import PAGE
    from knowledge.encoder import ChromaEmbedding

    collection = store.client.get_collection(  # type: ignore[attr-defined]
        store.collection_name,  # type: ignore[attr-defined]
        embedding_function=ChromaEmbedding(store.encoder),  # type: ignore[attr-defined,arg-type]
    )
    vectors, doc_ids, languages, spans = [], [], [], []
    offset = 0
    while True:
        page = collection.get(include=["embeddings", "metadatas"], limit=PAGE, offset=offset)
        for emb, meta in zip(page["embeddings"], page["metadatas"] or [], strict=True):  # type: ignore[arg-type]
            vectors.append(np.asarray(emb, dtype=np.float32))
            doc_ids.append(back[str(meta["article_id"])])
            languages.append(str(meta["language"]))
            spans.append((int(meta["valid_from"]), int(meta["valid_to"])))  # type: ignore[arg-type]
        if len(page["ids"]) < PAGE:
            break
        offset += PAGE
    return PlainMiniLM(np.vstack(vectors), doc_ids, languages, spans)


def title_baseline(articles: list, back: dict[str, str], encoder: object) -> PlainMiniLM:  # type: ignore[type-arg]
    """Plain MiniLM over one encoding of each doc's title alone."""
    from knowledge.store import OPEN_END, OPEN_START, day_key

    vectors = encoder.encode([a.title for a in articles])  # type: ignore[attr-defined]
    return PlainMiniLM(
        np.asarray(vectors),
        [back[a.id] for a in articles],
        [a.language for a in articles],
        [(day_key(a.valid_from, OPEN_START), day_key(a.valid_to, OPEN_END)) for a in articles],
    )


def articles_from_docs(docs: list[dict]) -> tuple[list, dict[str, str]]:  # type: ignore[type-arg]
    """Docs as articles, and our article id -> the doc's id."""
    from knowledge.models import Article

    taken: set[str] = set()
    articles, back = [], {}
    for doc in docs:
        article_id = safe_id(doc["id"], taken)
        back[article_id] = str(doc["id"])
        articles.append(
            Article(
                id=article_id,
                title=doc.get("title") or str(doc["id"]),
                body=doc.get("text") or "",
                language=doc.get("language", "en"),
                category=doc.get("category", "general"),
                valid_from=doc.get("valid_from"),
                valid_to=doc.get("valid_to"),
                answer=doc.get("answer"),
                tags=doc.get("tags") or [],
            )
        )
    return articles, back


async def run(args: argparse.Namespace) -> dict[str, object]:
    from tqdm import tqdm

    from knowledge.chroma_store import ChromaKnowledgeStore
    from knowledge.chunking import chunk_article
    from knowledge.encoder import default_encoder
    from knowledge.guard import ConfidenceGuard
    from knowledge.service import KnowledgeBase

    docs, queries = read_jsonl(args.docs), read_jsonl(args.queries)
    articles, back = articles_from_docs(docs)
    encoder = default_encoder()
    if args.chroma_url:
        store = ChromaKnowledgeStore.remote(args.chroma_url, encoder, collection=f"bench-{int(time.time())}")
    elif args.persist:
        store = ChromaKnowledgeStore.embedded(
            str(args.persist), encoder, collection=args.collection or f"bench-{int(time.time())}"
        )
    else:
        store = ChromaKnowledgeStore.in_memory(encoder)
    total = sum(len(chunk_article(a)) for a in articles)
    started = time.perf_counter()
    with tqdm(total=total, desc="ingest (chunks)", file=sys.stderr, unit="chunk") as bar:
        await store.upsert_many(articles, bar.update)
    ingest_s = time.perf_counter() - started
    kb = KnowledgeBase(store, default_language=args.language, k=args.k)
    if args.query_threads:
        import torch

        # one question is one small forward pass: a single intra-op thread avoids waiting on
        # a second thread the OS has scheduled elsewhere (a server runs requests side by side)
        torch.set_num_threads(args.query_threads)
    guard = ConfidenceGuard()
    warm = [q["query"] for q in queries[: args.warmup]]
    for text in warm:  # first calls pay for lazy loads and the BM25 build
        await kb.retrieve(f"{text} warm-up", args.language)

    from knowledge.store import OPEN_START, day_key

    arms: dict[str, PlainMiniLM] = {}
    if args.baselines:
        arms["minilm_chunks"] = chunk_baseline(store, back)
        if len(articles) <= args.title_baseline_max:
            arms["minilm_titles"] = title_baseline(articles, back, encoder)
    arm_rankings = {name: Ranking() for name in arms}

    latencies: list[float] = []
    top1 = top5 = 0
    reciprocal = 0.0
    answerable = 0
    predicted_none = correct_none = expected_none = 0
    for q in tqdm(queries, desc="queries", file=sys.stderr, unit="q"):
        language = q.get("language", args.language)
        day = dt.date.fromisoformat(q["date"]) if q.get("date") else args.date
        t0 = time.perf_counter()
        passages, _ = await kb.retrieve(q["query"], language, on=day)
        latencies.append((time.perf_counter() - t0) * 1000)
        verdict = guard.judge(passages)
        ranked = list(dict.fromkeys(back[p.article_id] for p in passages))
        gold = q.get("doc_id")
        if gold is None:
            expected_none += 1
            correct_none += not verdict.answered
        else:
            answerable += 1
            right = {str(gold), *map(str, q.get("alt_doc_ids") or [])}
            rank = next((i for i, d in enumerate(ranked, start=1) if d in right), None)
            top1 += rank == 1
            top5 += rank is not None and rank <= 5
            reciprocal += 1 / rank if rank else 0.0
            if arms:
                vector = encoder.encode([q["query"]])[0]
                visible = {language, args.language}
                when = day_key(day or dt.date.today(), OPEN_START)
                for name, arm in arms.items():
                    arm_rankings[name].add(arm.rank(vector, visible, when), right)
        predicted_none += not verdict.answered
    # the share of the query embedding: the same questions, made unique so no cache helps
    encode_ms = []
    for q in queries[:200]:
        t0 = time.perf_counter()
        encoder.encode([f"{q['query']} (again)"])
        encode_ms.append((time.perf_counter() - t0) * 1000)
    print(
        f"query embedding alone: p50 {percentile(encode_ms, 50):.2f} ms, "
        f"p99 {percentile(encode_ms, 99):.2f} ms",
        file=sys.stderr,
    )
    if (args.chroma_url or args.persist) and not args.keep:
        store.drop()

    def ratio(a: float, b: int) -> float | None:
        return round(a / b, 4) if b else None

    print(
        f"docs {len(docs)}  chunks {store.chunk_count}  queries {len(queries)} "
        f"({expected_none} unanswerable)  ingest {ingest_s:.1f}s",
        file=sys.stderr,
    )
    if arm_rankings:
        shipped = {
            "top1": ratio(top1, answerable),
            "top5": ratio(top5, answerable),
            "mrr": ratio(reciprocal, answerable),
        }
        print(f"{'arm':<16}{'top1':>8}{'top5':>8}{'mrr':>8}", file=sys.stderr)
        for name, figures in {
            "shipped": shipped,
            **{n: r.figures() for n, r in arm_rankings.items()},
        }.items():
            print(
                f"{name:<16}" + "".join(f"{v if v is not None else '-':>8}" for v in figures.values()),
                file=sys.stderr,
            )
    return {
        "top1": ratio(top1, answerable),
        "top5": ratio(top5, answerable),
        "mrr": ratio(reciprocal, answerable),
        "no_answer_precision": (ratio(correct_none, predicted_none) or 0.0) if expected_none else None,
        "no_answer_recall": ratio(correct_none, expected_none),
        "latency_ms_p50": round(percentile(latencies, 50), 2),
        "latency_ms_p99": round(percentile(latencies, 99), 2),
        "baselines": {name: r.figures() for name, r in arm_rankings.items()} or None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10, help="passages retrieved per query")
    parser.add_argument("--language", default="en", help="language of docs/queries without one")
    parser.add_argument("--date", type=dt.date.fromisoformat, default=None, help="ask as of this day")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--query-threads", type=int, default=1, help="torch threads while querying (0: leave)"
    )
    parser.add_argument("--chroma-url", default=None, help="use a Chroma server instead of in-memory Chroma")
    parser.add_argument("--persist", type=Path, default=None, help="use embedded Chroma persisted here")
    parser.add_argument(
        "--collection",
        default=None,
        help="with --persist: this collection (default: a new one); an existing one keeps what is "
        "indexed and re-embeds only changed chunks, so a large corpus can be indexed once and "
        "queried again later (e.g. on a quieter machine)",
    )
    parser.add_argument(
        "--no-baselines", dest="baselines", action="store_false", help="skip the plain MiniLM arms"
    )
    parser.add_argument(
        "--title-baseline-max",
        type=int,
        default=5000,
        help="plain MiniLM over titles only up to this many docs",
    )
    parser.add_argument("--keep", action="store_true", help="with --persist: keep the collection afterwards")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    for key, value in result.items():
        print(f"{key:>20}  {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
