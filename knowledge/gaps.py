"""Knowledge gaps: what clients asked that the knowledge base could not answer well.

A gap is an event of the conversation's log (``knowledge_gap``, written by the knowledge
action in the turn's own append, with the question, its language, why it is a gap and
what was tried). :class:`GapProjector` is the read model: each gap lands, in the append's
transaction, in ``kb_gaps`` and in its cluster of ``kb_gap_clusters`` (how often, first and
last asked, an example), and ``concierge projections rebuild`` replays the log into both.
:meth:`GapLog.report` reads the clusters asked in a date range with one indexed query,
biggest first, so editors see what to write next.

A cluster is the set of questions with the same lexical key (:func:`gap_key`: the
question's content words, lightly stemmed, without question words and fillers): "do you
do tattoo removal?", "can I get a tattoo removed?" and "tattoo removal price" share
``remov tattoo``. The key is a function of the question alone, so a question's cluster
does not depend on what was asked before it: the rebuild (which replays conversation by
conversation) equals the live projection, and concurrent appenders cannot split a
cluster. Paraphrases without a shared content word ("parking" / "where do I leave my
car") stay apart; the earlier per-request MiniLM grouping merged some of those, at the
price of encoding up to 5,000 questions on every request.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.events import KnowledgeGapNoted
from bot.store.event_store import EventStore, StoredEvent
from knowledge.tables import GAP_REASONS, gap_clusters, gaps

KEY_LENGTH = 500
QUESTION_LENGTH = 2000
TRIED_LENGTH = 1000

# Question words, pronouns and fillers of the bot's languages (en, pl, uk, ru): they say
# how a client asks, not what about ("how much is X", "do you have X", "X price"). The key
# is stored: after changing these lists or the stemming, run ``concierge projections
# rebuild --only knowledge_gaps`` so old questions are keyed like new ones.
STOPWORDS = frozenset(
    """
    a an the do does did done you your yours i im me my mine we our us is are was were be been
    am can could would will shall should may might must have has had there here what whats
    when where which who whom whose why how much many any some of in on at to for from with
    about it its this that these those and or but not no yes please hi hello hey get got
    ok okay price prices cost costs need want like know tell possible available also just
    still really thanks thank if than then so as by they them their he she her his one
    czy jak jaki jaka jakie gdzie kiedy co mogę można się w we na z ze do i a o u jest są
    macie masz mam ile kosztuje cena dla to ten ta te po przez od nie tak proszę mi
    чи як який яка яке які де коли що можна я ви у в на з із до і й а о є скільки коштує
    ціна для це не так будь ласка мені вас
    ли как какой какая какие где когда что можно вы с и есть сколько стоит цена это
    пожалуйста мне
    """.split()
)
# Longest first: "removal"/"removed" -> "remov", "swimming" -> "swim", "karty"/"kart" -> "kart"
SUFFIXES = tuple(
    sorted(
        "ing ed al es s ly er "
        "ami ach ów om ie y i ę ą a u e "
        "ами ах ів ом ою ої ий ій их и і у ю а я ы е о".split(),
        key=len,
        reverse=True,
    )
)
_WORD = re.compile(r"[^\W\d_]+|\d+")


def _stem(word: str) -> str:
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouy":
        word = word[:-1]  # swimm -> swim
    return word


def gap_key(question: str) -> str:
    """The cluster key of ``question``: its stemmed content words, sorted, without repeats
    (the whole question, lower-cased, when it has none: "hi?" is its own cluster)."""
    words = _WORD.findall(question.casefold())
    terms = sorted({_stem(w) for w in words if w not in STOPWORDS and len(w) > 1})
    key = " ".join(terms) or " ".join(words) or question.casefold().strip()
    return key[:KEY_LENGTH]


class GapGroup(BaseModel):
    """Questions that share a cluster, with how often and why they went unanswered."""

    question: str = Field(description="the most frequent wording in the range")
    count: int = Field(description="how often it was asked in the range")
    reasons: dict[str, int]
    languages: dict[str, int]
    examples: list[str]
    tried: list[str] = Field(default_factory=list, description="what the bot tried, latest first")
    last_asked: datetime
    first_asked: datetime | None = Field(default=None, description="the first time ever (the cluster's)")
    total: int | None = Field(default=None, description="how often it was ever asked (the cluster's)")


class GapProjector:
    """The knowledge gaps read model: ``kb_gaps`` rows and their ``kb_gap_clusters``."""

    name = "knowledge_gaps"
    handles = frozenset({"knowledge_gap"})

    async def apply(self, conn: AsyncConnection, conversation_id: str, stored: Sequence[StoredEvent]) -> None:
        """Each gap event: its cluster gains one question, then its row points at it."""
        for item in stored:
            event = item.event
            if not isinstance(event, KnowledgeGapNoted):
                continue
            at = datetime.fromtimestamp(event.timestamp, UTC)
            question = event.question.strip()[:QUESTION_LENGTH] or event.question
            cluster_id = await self._join_cluster(conn, gap_key(question), question, at)
            await conn.execute(
                gaps.insert().values(
                    question=question,
                    language=event.language,
                    reason=event.reason,
                    score=event.score,
                    conversation_id=conversation_id,
                    seq=item.seq,
                    created_at=at,
                    tried=event.tried[:TRIED_LENGTH] if event.tried else None,
                    cluster_id=cluster_id,
                )
            )

    @staticmethod
    async def _join_cluster(conn: AsyncConnection, key: str, question: str, at: datetime) -> int:
        """The id of ``key``'s cluster, counted one more (created when new): one upsert, so
        two appenders asking the same new question at once share one cluster."""
        insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
        row = insert(gap_clusters).values(key=key, example=question, count=1, first_seen=at, last_seen=at)
        new, old = row.excluded, gap_clusters.c
        earlier = new.first_seen < old.first_seen
        stmt = row.on_conflict_do_update(
            index_elements=[old.key],
            set_={
                "count": old.count + 1,
                # the example is the earliest question, whatever order the log is replayed in
                "example": case((earlier, new.example), else_=old.example),
                "first_seen": case((earlier, new.first_seen), else_=old.first_seen),
                "last_seen": case((new.last_seen > old.last_seen, new.last_seen), else_=old.last_seen),
            },
        ).returning(old.id)
        return int((await conn.execute(stmt)).scalar_one())

    async def reset(self, conn: AsyncConnection) -> None:
        """Delete every gap and cluster (a rebuild replays the log)."""
        await conn.execute(delete(gaps))
        await conn.execute(delete(gap_clusters))


async def register_gap_projection(store: EventStore) -> None:
    """Keep the gaps read model in step with ``store`` (the wiring code calls this once)."""
    if GapProjector.name not in {p.name for p in store.projectors}:
        store.add_projector(GapProjector())


async def refresh_clusters(conn: AsyncConnection, cluster_ids: Iterable[int]) -> None:
    """Recount clusters after some of their questions were deleted (erase, retention): a
    cluster left with no question goes; the others get their count, first and last asked
    and earliest example from the questions still held."""
    for cluster_id in sorted(set(cluster_ids)):
        held = gaps.c.cluster_id == cluster_id
        row = (
            await conn.execute(
                select(func.count(), func.min(gaps.c.created_at), func.max(gaps.c.created_at)).where(held)
            )
        ).one()
        if not row[0]:
            await conn.execute(delete(gap_clusters).where(gap_clusters.c.id == cluster_id))
            continue
        example = (
            await conn.execute(
                select(gaps.c.question).where(held).order_by(gaps.c.created_at, gaps.c.id).limit(1)
            )
        ).scalar_one()
        await conn.execute(
            update(gap_clusters)
            .where(gap_clusters.c.id == cluster_id)
            .values(count=row[0], first_seen=row[1], last_seen=row[2], example=example)
        )


def gap_event(
    question: str, language: str, reason: str, score: float | None = None, tried: str | None = None
) -> KnowledgeGapNoted:
    """The ``knowledge_gap`` event for a question (bounded to what the read model keeps)."""
    if reason not in GAP_REASONS:
        raise ValueError(f"gap reason must be one of {GAP_REASONS}, not {reason!r}")
    return KnowledgeGapNoted(
        question=question.strip()[:QUESTION_LENGTH],
        language=language[:8],
        reason=reason,  # type: ignore[arg-type]
        score=score,
        tried=tried[:TRIED_LENGTH] if tried else None,
    )


class GapLog:
    """The gaps report, read from the read model (:class:`GapProjector` keeps it)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def report(
        self,
        *,
        days: int = 30,
        limit: int = 20,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[GapGroup]:
        """The clusters most asked about, biggest first: of the last ``days`` days, or from
        ``since`` to before ``until`` when given (an analytics date range).

        One statement: the ``limit`` clusters with the most questions in the range (the
        ``created_at`` index), each with its wordings, languages and reasons in the range.
        """
        since = since or datetime.now(UTC) - timedelta(days=days)
        in_range = [gaps.c.created_at >= since, gaps.c.cluster_id.is_not(None)]
        if until is not None:
            in_range.append(gaps.c.created_at < until)
        top = (
            select(gaps.c.cluster_id)
            .where(*in_range)
            .group_by(gaps.c.cluster_id)
            .order_by(func.count().desc(), func.max(gaps.c.created_at).desc(), gaps.c.cluster_id)
            .limit(limit)
        )
        query = (
            select(
                gaps.c.cluster_id,
                gaps.c.question,
                gaps.c.language,
                gaps.c.reason,
                func.count().label("n"),
                func.max(gaps.c.created_at).label("last"),
                func.max(gaps.c.tried).label("tried"),
                gap_clusters.c.first_seen,
                gap_clusters.c.count.label("total"),
            )
            .join(gap_clusters, gap_clusters.c.id == gaps.c.cluster_id)
            .where(and_(*in_range), gaps.c.cluster_id.in_(top.scalar_subquery()))
            .group_by(
                gaps.c.cluster_id,
                gaps.c.question,
                gaps.c.language,
                gaps.c.reason,
                gap_clusters.c.first_seen,
                gap_clusters.c.count,
            )
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return group_rows(rows)


def group_rows(rows: Sequence) -> list[GapGroup]:  # type: ignore[type-arg]
    """Fold the report's rows (one per cluster, wording, language and reason) into groups."""
    by_cluster: dict[int, list] = {}  # type: ignore[type-arg]
    for row in rows:
        by_cluster.setdefault(row.cluster_id, []).append(row)
    groups = []
    for members in by_cluster.values():
        members.sort(key=lambda r: r.last, reverse=True)  # latest first
        wordings: Counter[str] = Counter()
        for r in members:
            wordings[r.question.strip().casefold()] += r.n
        top = wordings.most_common(1)[0][0]
        reasons: Counter[str] = Counter()
        languages: Counter[str] = Counter()
        for r in members:
            reasons[r.reason] += r.n
            languages[r.language] += r.n
        groups.append(
            GapGroup(
                question=next(r.question for r in members if r.question.strip().casefold() == top),
                count=sum(r.n for r in members),
                reasons=dict(reasons),
                languages=dict(languages),
                examples=list(dict.fromkeys(r.question for r in members))[:5],
                tried=list(dict.fromkeys(r.tried for r in members if r.tried))[:3],
                last_asked=members[0].last,
                first_asked=members[0].first_seen,
                total=members[0].total,
            )
        )
    groups.sort(key=lambda g: (-g.count, -g.last_asked.timestamp()))
    return groups
