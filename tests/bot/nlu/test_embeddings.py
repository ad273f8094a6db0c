"""Sentence encoders: the bundled MiniLM (ONNX Runtime and torch) and the static model, offline."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from bot.nlu.embeddings import SentenceEncoder, StaticEncoder, minilm_path
from bot.nlu.pipeline import make_encoder

SENTENCES = ["I want to book a manicure", "can I make an appointment for my nails", "where can I park my car"]


@pytest.fixture(scope="module")
def static() -> StaticEncoder:
    return StaticEncoder.distilled()


@pytest.fixture(scope="module")
def minilm() -> SentenceEncoder:
    return SentenceEncoder()


@pytest.fixture(scope="module")
def minilm_torch() -> SentenceEncoder:
    return SentenceEncoder(backend="torch")


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


# ---- MiniLM on ONNX Runtime ---------------------------------------------------------

# The booking request comes first and the tail about parking lies past token 256: a text
# that was not truncated like sentence-transformers truncates would point elsewhere.
LONG = "I would like to book a manicure and a pedicure for Friday afternoon, please. " * 20 + (
    "Also, where can I park my car near the salon, and is the garage open on Sundays? " * 10
)
FIDELITY_TEXTS = [
    *SENTENCES,
    "yes",
    "Chcę umówić wizytę na manicure w piątek o 15:00",
    "Хочу записатися на манікюр у п'ятницю, будь ласка",
    "  spaces around  ",
    LONG,
]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def _identity(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _cached_exports(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.onnx"))


def test_onnx_is_the_default_and_matches_torch(
    minilm: SentenceEncoder, minilm_torch: SentenceEncoder
) -> None:
    assert minilm.active_backend == "onnx" and minilm_torch.active_backend == "torch"
    assert minilm.fingerprint == minilm_torch.fingerprint  # same vectors: indexes stay valid
    tokens = minilm_torch.model.tokenizer(LONG)["input_ids"]
    assert len(tokens) > 300  # the long text really is cut at 256 tokens
    onnx, reference = minilm.encode(FIDELITY_TEXTS), minilm_torch.encode(FIDELITY_TEXTS)
    assert onnx.shape == (len(FIDELITY_TEXTS), 384) and onnx.dtype == np.float32
    assert _cosines(onnx, reference).min() >= 0.999
    # and one text at a time (no padding) gives the same rows as the batch
    alone = np.stack([minilm.encode([t])[0] for t in FIDELITY_TEXTS[-4:]])
    assert _cosines(alone, onnx[-4:]).min() >= 0.9999


def test_onnx_encodes_from_several_threads(minilm: SentenceEncoder) -> None:
    texts = [f"can I move my appointment number {i} to next week" for i in range(24)]
    fresh = SentenceEncoder(cache_size=0)
    with ThreadPoolExecutor(max_workers=4) as pool:
        rows = list(pool.map(lambda t: fresh.encode([t])[0], texts))
    assert _cosines(np.stack(rows), minilm.encode(texts)).min() >= 0.9999


def test_export_is_cached_and_reused(tmp_path: Path) -> None:
    first = SentenceEncoder(onnx_cache_dir=tmp_path, cache_size=0)
    vector = first.encode(["book me in for a haircut"])
    (export,) = _cached_exports(tmp_path)
    assert first.fingerprint.split(":")[1] in export.name  # keyed by the weights' digest
    before = _identity(export)
    second = SentenceEncoder(onnx_cache_dir=tmp_path, cache_size=0)
    assert second.active_backend == "onnx"
    assert _identity(export) == before  # the same file, not written again
    assert _cached_exports(tmp_path) == [export] and not list(tmp_path.glob("*.tmp"))
    assert np.allclose(second.encode(["book me in for a haircut"]), vector, atol=1e-6)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_broken_export_is_rebuilt(
    damage: str, tmp_path: Path, minilm_torch: SentenceEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    SentenceEncoder(onnx_cache_dir=tmp_path).active_backend  # noqa: B018 - export now
    (export,) = _cached_exports(tmp_path)
    size = export.stat().st_size
    if damage == "garbage":
        export.write_bytes(b"not an ONNX model at all")
    else:
        export.write_bytes(export.read_bytes()[: size // 2])
    encoder = SentenceEncoder(onnx_cache_dir=tmp_path)
    with caplog.at_level("WARNING", logger="bot.nlu.onnx_encoder"):
        assert encoder.active_backend == "onnx"
    assert "exporting it again" in caplog.text
    assert export.stat().st_size == size
    assert _cosines(encoder.encode(SENTENCES), minilm_torch.encode(SENTENCES)).min() >= 0.999


def test_falls_back_to_torch_when_onnx_cannot_serve(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A model pooled by its CLS token is not what the ONNX path computes: torch encodes it."""
    model = tmp_path / "cls-model"
    model.mkdir()
    for item in minilm_path().iterdir():
        if item.name not in {"1_Pooling"} and not item.name.startswith("concierge-"):
            (model / item.name).symlink_to(item)
    (model / "1_Pooling").mkdir()
    (model / "1_Pooling" / "config.json").write_text(
        '{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}'
    )
    encoder = SentenceEncoder(model_path=model, onnx_cache_dir=tmp_path / "cache")
    with caplog.at_level("WARNING", logger="bot.nlu.embeddings"):
        assert encoder.active_backend == "torch"
    assert "sentence-transformers instead" in caplog.text
    vectors = encoder.encode(SENTENCES)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert _similar_closer(vectors)
    assert not (tmp_path / "cache").exists()  # refused before exporting anything


def test_unknown_backend_is_a_config_error() -> None:
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="backend"):
        SentenceEncoder(backend="tensorrt")
