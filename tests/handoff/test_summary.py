"""The packet's LLM summary against a real OpenAI-compatible server (llama.cpp serving SmolLM2-135M),
and the extractive summary when that server is gone. The model is tiny: this checks the
plumbing, not its prose."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_packet import CID, CONFIG, vip_complaint

from handoff.packet import TranscriptLine, build_packet
from handoff.summary import LLMSummariser
from knowledge.llm import make_openai_client
from tests.knowledge.conftest import free_port
from tests.knowledge.test_llm import start_server, stop


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = start_server(tmp_path_factory.mktemp("summary_llm") / "server.log")
    yield url
    stop(process)


async def test_the_llm_writes_the_packets_summary(llm_url: str) -> None:
    client = make_openai_client(llm_url, None, 120)
    try:
        summariser = LLMSummariser(client, "smollm2", timeout=120.0, max_tokens=60)
        direct = await summariser.summarise(
            [TranscriptLine(sender="client", text="My nails chipped after a day.")]
        )
        assert direct.strip()
        packet = await build_packet(CID, vip_complaint().events, config=CONFIG, summariser=summariser)
    finally:
        await client.close()  # type: ignore[attr-defined]
    assert packet.summary_source == "llm" and packet.summary.strip()
    assert packet.reason == "client_request"  # everything else is the same packet


async def test_with_the_server_gone_the_agent_still_gets_the_extractive_summary() -> None:
    client = make_openai_client(f"http://127.0.0.1:{free_port()}/v1", None, 5)  # nobody listens there
    try:
        packet = await build_packet(
            CID,
            vip_complaint().events,
            config=CONFIG,
            summariser=LLMSummariser(client, "smollm2", timeout=5.0),
        )
    finally:
        await client.close()  # type: ignore[attr-defined]
    assert packet.summary_source == "extractive" and packet.summary.startswith(
        "Client (Standard, pl) wrote 3"
    )
