"""Grounded LLM answers: every sentence must be supported by the passages it cites.

The off-topic reply comes over real HTTP from a small local OpenAI-compatible server that
answers every chat completion with the same text (so the test does not depend on a tiny
model's mood); the real llama.cpp server's on-topic answers are checked in test_llm.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import pytest_asyncio

from knowledge.chroma_store import ChromaKnowledgeStore
from knowledge.composer import AnswerComposer
from knowledge.grounding import GroundingChecker, sentences
from knowledge.llm import LLMAnswerer, make_openai_client
from knowledge.service import KnowledgeBase

DAY = date(2026, 12, 10)
OFF_TOPIC = "The Roman Empire fell in 476 AD after barbarian invasions [1]. Rome had many emperors [1]."
ON_TOPIC = (
    "We keep a 15-minute grace period, so up to 15 minutes late your treatment goes ahead as booked [1]. "
    "Later than that, the treatment may be shortened and the full price applies [1]."
)


class _Canned(BaseHTTPRequestHandler):
    """``POST /v1/chat/completions`` answers with the server's ``reply``; nothing else exists."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append(request)  # type: ignore[attr-defined]
        body = json.dumps(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": request.get("model", "canned"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": self.server.reply},  # type: ignore[attr-defined]
                    }
                ],
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


@pytest.fixture
def canned_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    server.reply = OFF_TOPIC  # type: ignore[attr-defined]
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest_asyncio.fixture
async def canned_kb(
    canned_server: ThreadingHTTPServer, demo_store: ChromaKnowledgeStore
) -> AsyncIterator[KnowledgeBase]:
    url = f"http://127.0.0.1:{canned_server.server_address[1]}/v1"
    client = make_openai_client(url, None, 10)
    yield KnowledgeBase(demo_store, AnswerComposer(llm=LLMAnswerer(client, "canned", timeout=10)))
    await client.close()  # type: ignore[attr-defined]


async def test_an_off_topic_reply_with_a_citation_is_not_shown(
    canned_kb: KnowledgeBase, canned_server: ThreadingHTTPServer
) -> None:
    answer = await canned_kb.ask("what happens if I'm 15 minutes late?", "en", on=DAY, record_gaps=False)
    assert canned_server.requests, "the LLM was asked"  # type: ignore[attr-defined]
    assert answer.answered and answer.mode == "curated"
    assert "Roman" not in (answer.text or "") and "15-minute grace period" in (answer.text or "")
    assert answer.sources[0].article_id == "lateness-policy"
    assert (answer.fallback_reason or "").startswith("llm answer not supported by its sources")
    assert "Roman Empire" in (answer.fallback_reason or "")


async def test_a_reply_its_passages_support_is_shown(
    canned_kb: KnowledgeBase, canned_server: ThreadingHTTPServer
) -> None:
    canned_server.reply = ON_TOPIC  # type: ignore[attr-defined]
    answer = await canned_kb.ask("what happens if I'm 15 minutes late?", "en", on=DAY, record_gaps=False)
    assert answer.mode == "llm", answer.fallback_reason
    assert answer.text == ON_TOPIC


async def test_each_sentence_is_checked_on_its_own(demo_store: ChromaKnowledgeStore) -> None:
    passages = await demo_store.search("what happens if I'm 15 minutes late?", "en", 3, on=DAY)
    checker = GroundingChecker()
    mixed = ON_TOPIC + " We also serve free champagne to every late client [1]."
    verdict = checker.check(mixed, passages, [1])
    assert not verdict.grounded
    assert [s.supported for s in verdict.sentences] == [True, True, False]
    assert "champagne" in verdict.sentences[2].unsupported_words
    # a number the source does not say is never supported, however familiar the words
    assert not checker.check("You get a 30-minute grace period [1].", passages, [1]).grounded
    assert checker.check(ON_TOPIC, passages, [1]).grounded


def test_sentences_keep_their_citations() -> None:
    assert sentences("One thing [1]. Another [2]! A third?") == ["One thing [1].", "Another [2]!", "A third?"]
