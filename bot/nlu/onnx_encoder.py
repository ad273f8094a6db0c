"""MiniLM on ONNX Runtime: the same vectors as sentence-transformers, a few ms sooner.

The bundled all-MiniLM-L6-v2 is exported once to ONNX from its own weights (TorchScript
exporter, offline, ~2 s) and cached on disk beside them, like the static model; when that
folder is read-only, under ``~/.cache/concierge``. The file's name carries the weights'
digest and the export recipe, so new weights or a new recipe export again. Each text is
tokenised by the bundled fast tokenizer exactly as sentence-transformers does it (padding,
truncation to 256 tokens), run through one ONNX Runtime session, mean-pooled over its
real tokens and L2-normalised: the vectors match the torch ones to ~1e-6.

Why: one message through torch costs ~10-13 ms on a small CPU, mostly framework overhead
around a tiny model; ONNX Runtime with fused kernels runs the same graph in less.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

log = logging.getLogger(__name__)

ONNX_CACHE_NAME = "concierge-onnx"
# Bump when the export changes (opset, inputs, attention implementation): old files are then ignored.
EXPORT_RECIPE = "v1-opset17-eager"
MAX_SEQ_LENGTH = 256  # the default of sentence_bert_config.json's max_seq_length
BATCH_SIZE = 32
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OnnxMiniLM:
    """One ONNX Runtime session over an exported MiniLM, plus its tokenizer and pooling.

    ``threads`` is ONNX Runtime's intra-op thread count (1: on a small shared machine one
    thread per message beats two threads that fight other processes).
    """

    def __init__(
        self, model_path: Path, weights_digest: str, threads: int = 1, cache_dir: Path | None = None
    ) -> None:
        from transformers import AutoTokenizer

        self.model_path = Path(model_path)
        directory = Path(cache_dir) if cache_dir else onnx_cache_dir(self.model_path, weights_digest)
        self.onnx_file = directory / f"minilm-{weights_digest}-{EXPORT_RECIPE}.onnx"
        self.threads = threads
        self.max_seq_length = _max_seq_length(self.model_path)
        self.tokenizer = AutoTokenizer.from_pretrained(
            str(self.model_path), local_files_only=True, use_fast=True
        )
        # A fast tokenizer's padding/truncation state is set per call: two threads at once can
        # fail with "Already borrowed", so tokenising is serialised (it is ~0.1 ms a text).
        self._tokenize_lock = threading.Lock()
        self.session = self._open()

    def _open(self) -> Any:
        """The session from the cached export; exported now when missing or unreadable."""
        if not self.onnx_file.is_file():
            export_onnx(self.model_path, self.onnx_file)
        try:
            return self._session()
        except Exception as exc:  # a truncated or foreign file: ORT cannot parse it
            log.warning(
                "the cached ONNX MiniLM %s is unreadable (%s); exporting it again", self.onnx_file, exc
            )
            self.onnx_file.unlink(missing_ok=True)
            export_onnx(self.model_path, self.onnx_file)
            return self._session()

    def _session(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        session = ort.InferenceSession(str(self.onnx_file), options, providers=["CPUExecutionProvider"])
        if tuple(i.name for i in session.get_inputs()) != _INPUTS:
            raise ValueError(f"unexpected inputs {[i.name for i in session.get_inputs()]}")
        return session

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised 384-d float32 row per text, batched by length to pad little."""
        out = np.empty((len(texts), 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            out[rows] = self._batch([texts[i] for i in rows])
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        with self._tokenize_lock:
            features = self.tokenizer(
                texts, padding=True, truncation=True, max_length=self.max_seq_length, return_tensors="np"
            )
        feed = {name: np.asarray(features[name], dtype=np.int64) for name in _INPUTS}
        hidden = self.session.run(None, feed)[0]
        mask = feed["attention_mask"][:, :, None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _max_seq_length(source: Path) -> int:
    """sentence-transformers' token limit for this model; refuses a model it would pool otherwise.

    The pooling here is mean over real tokens then L2 normalisation: a model configured for
    anything else (CLS pooling, lower-casing in the wrapper) must go through torch instead.
    """
    config = _json(source / "sentence_bert_config.json")
    pooling = _json(source / "1_Pooling" / "config.json")
    if config.get("do_lower_case") or not pooling.get("pooling_mode_mean_tokens", True):
        raise ValueError(f"{source} is not a mean-pooled sentence-transformers model")
    if any(pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens")):
        raise ValueError(f"{source} pools other than by the mean of its tokens")
    return int(config.get("max_seq_length") or MAX_SEQ_LENGTH)


def _json(path: Path) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(path.read_text())) if path.is_file() else {}


def onnx_cache_dir(source: Path, weights_digest: str) -> Path:
    """Beside the weights when that folder is writable, else ``~/.cache/concierge``."""
    if os.access(source, os.W_OK):
        return source / ONNX_CACHE_NAME
    return Path.home() / ".cache" / "concierge" / f"{ONNX_CACHE_NAME}-{weights_digest[:12]}"


def export_onnx(source: Path, target: Path) -> None:
    """Export the MiniLM in ``source`` to ``target`` atomically (a parallel process may race us).

    Uses the TorchScript exporter (``dynamo=False``; the ``onnx`` package, no ``onnxscript``);
    eager attention keeps the graph to plain MatMul/Softmax that every
    ONNX Runtime fuses. Batch and sequence axes are dynamic.
    """
    import torch
    from transformers import AutoModel

    log.info("exporting MiniLM from %s to ONNX (one time, offline)", source)
    model = AutoModel.from_pretrained(str(source), local_files_only=True, attn_implementation="eager")
    wrapper = _wrapper_class()(model).eval()  # export restores train mode: eval on the wrapper
    ids = torch.tensor(
        [[101, 7592, 2045, 1010, 2129, 2024, 2017, 102]]
    )  # "[CLS] hello there, how are you [SEP]"
    example = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        # The tracer warns that shape arithmetic becomes constants; for an encoder's
        # self-attention those are always zero padding, and the tests check outputs at many lengths.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                example,
                staging,
                dynamo=False,
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                do_constant_folding=True,
            )
        os.chmod(staging, 0o644)  # mkstemp makes it private; other users share the cache
        os.replace(staging, target)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)


def _wrapper_class() -> type:
    import torch

    class LastHiddenState(torch.nn.Module):
        """The BERT model with positional inputs and one output, as the exporter wants it."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    return LastHiddenState
