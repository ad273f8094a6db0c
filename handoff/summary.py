"""An LLM summary of a handed-off conversation, for the agent's packet (optional).

Used when the knowledge base has an OpenAI-compatible LLM configured
(``CONCIERGE_KB_LLM_BASE_URL``); any failure or timeout makes
:func:`handoff.packet.build_packet` fall back to the extractive summary.
"""

from __future__ import annotations

import asyncio

from handoff.packet import TranscriptLine

MAX_LINES = 40
MAX_CHARS = 6000
PROMPT = (
    "You brief a customer-service agent at Mariia Hub (beauty and fitness studios) who is about to "
    "take over a chat from the bot. In at most three sentences, in English, say what the client "
    "wants, what went wrong, what the bot already tried, and how the client feels. Facts from the "
    "transcript only; no greeting."
)


class LLMSummariser:
    """Summarises a transcript with an ``openai.AsyncOpenAI``-compatible client (injected)."""

    def __init__(self, client: object, model: str, *, timeout: float = 8.0, max_tokens: int = 160) -> None:
        self.client = client
        self.model = model
        self.timeout = timeout
        self.max_tokens = max_tokens

    async def summarise(self, lines: list[TranscriptLine]) -> str:
        """A few sentences for the agent; raises on any failure (the caller falls back)."""
        transcript = "\n".join(f"{line.sender}: {line.text}" for line in lines[-MAX_LINES:])[-MAX_CHARS:]
        completion = await asyncio.wait_for(
            self.client.chat.completions.create(  # type: ignore[attr-defined]
                model=self.model,
                messages=[
                    {"role": "system", "content": PROMPT},
                    {"role": "user", "content": transcript},
                ],
                temperature=0.0,
                max_tokens=self.max_tokens,
                timeout=self.timeout,
            ),
            timeout=self.timeout,
        )
        choices = getattr(completion, "choices", None) or []
        return (choices[0].message.content or "").strip() if choices else ""
