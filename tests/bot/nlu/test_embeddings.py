"""Sentence encoders: the bundled MiniLM and the static model distilled from it, offline."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bot.nlu.embeddings import SentenceEncoder, StaticEncoder
from bot.nlu.pipeline import make_encoder

SENTENCES = ["I want to book a manicure", "can I make an appointment for my nails", "where can I park my car"]


@pytest.fixture(scope="module")
def static() -> StaticEncoder:
    return StaticEncoder.distilled()


@pytest.fixture(scope="module")
def minilm() -> SentenceEncoder:
    return SentenceEncoder()


def _similar_closer(vectors: np.ndarray) -> bool:
    return float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])


@pytest.mark.parametrize("name", ["static", "minilm"])
def test_vectors_are_normalised_and_meaningful(name: str, request: pytest.FixtureRequest) -> None:
    encoder = request.getfixturevalue(name)
    vectors = encoder.encode(SENTENCES)
    assert vectors.shape == (3, encoder.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert _similar_closer(vectors)


def test_cache_returns_the_same_rows(static: StaticEncoder) -> None:
    first = static.encode(["hello there", "hello there", "bye"])
    assert np.array_equal(first[0], first[1])
    assert np.array_equal(static.encode(["bye"])[0], first[2])


def test_static_model_round_trips_through_a_directory(static: StaticEncoder, tmp_path: Path) -> None:
    static.save(tmp_path / "static")
    loaded = StaticEncoder.from_directory(tmp_path / "static")
    assert loaded.fingerprint == static.fingerprint
    assert np.array_equal(loaded.encode(SENTENCES), static.encode(SENTENCES))


def test_make_encoder_shares_a_matching_encoder(static: StaticEncoder) -> None:
    assert make_encoder("static", static) is static
    assert make_encoder("none", static) is None


@pytest.mark.slow
def test_distillation_runs_offline(tmp_path: Path) -> None:
    """Distil from the bundled weights with the Hugging Face hub switched off (about 20 s)."""
    script = textwrap.dedent(f"""
        from pathlib import Path
        from bot.nlu.embeddings import StaticEncoder
        encoder = StaticEncoder.distilled(cache_dir=Path({str(tmp_path / "cache")!r}))
        print(encoder.dim, encoder.encode(["hello"]).shape)
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[0] == "256 (1, 256)"
    assert (tmp_path / "cache" / "model.safetensors").is_file()
