"""The reranker: a cross-encoder that reads the query and a candidate chunk together and scores how well
the chunk answers it. Hybrid search runs it over its best few candidates only (:data:`RERANK_DEPTH` in
:class:`mcpgw.search.query.Fusion`), where a bi-encoder's single vector per chunk cannot tell a method
from its class or from the neighbouring method as well as reading both texts side by side can.

``mcpgw-code-rerank-l6`` is all-MiniLM-L6-v2 fine-tuned as a cross-encoder on docstring queries against
the hybrid search's own top candidates, mined from the packages of ``scripts/train_code_embedder.py``
(how: ``scripts/train_code_reranker.py``). It ships inside the package (int8 ONNX) and runs with
onnxruntime + tokenizers, like the embedder; numpy and onnxruntime are imported only when it is built.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcpgw.errors import IndexError_
from mcpgw.search.embedder import load_onnx, version_tag
from mcpgw.search.index import as_words
from mcpgw.search.terms import split_identifier

BUNDLED_RERANKER = Path(__file__).resolve().parent / "models" / "mcpgw-code-rerank-l6"
MAX_TOKENS = 128  # query and chunk together; the chunk's header and first lines carry what it does


_EMPTY_STRING = re.compile(r"(?<!\S)(\"\"|'')(?!\S) ?")


def rerank_text(path: str, symbols: str, text: str) -> str:
    """What the reranker reads of a chunk: its path, its name as words, then its code as words.

    Empty string literals are left out: the training data is code with its docstrings blanked to ``""``,
    and a model that sees them learns "documented, so probably the answer" instead of reading the code,
    then ranks every undocumented definition low."""
    name = symbols.rsplit(" ", 1)[-1] if symbols else ""
    words = " ".join(split_identifier(name.replace(".", "_")))
    return strip_empty_strings(f"{path} · {words}\n{as_words(text)}")


def strip_empty_strings(text: str) -> str:
    """``text`` without its empty string literals (``""``, ``''``) as separate words."""
    return _EMPTY_STRING.sub("", text)


class Reranker:
    """A BERT-style cross-encoder exported to ONNX whose single logit scores a (query, chunk) pair."""

    def __init__(self, model_dir: Path, *, max_tokens: int = MAX_TOKENS, threads: int | None = None) -> None:
        fix = "reinstall mcpgw, or search without --rerank (and with search.rerank = false)"
        self._tokenizer, self._session = load_onnx(
            model_dir / "model.onnx", model_dir / "tokenizer.json", what="the reranker", fix=fix, threads=threads
        )
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_tokens, strategy="longest_first")
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.model_dir = model_dir
        self.name = f"local:{model_dir.name}{version_tag(model_dir)}"
        self._lock = threading.Lock()

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        """One logit per document (higher: a better answer to ``query``)."""
        import numpy as np

        if not documents:
            return []
        encodings = self._tokenizer.encode_batch([(query[:300], d) for d in documents])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            types[i, : len(e.ids)] = e.type_ids
            mask[i, : len(e.ids)] = 1
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = types
        with self._lock:
            logits = self._session.run(None, feeds)[0]
        return [float(x) for x in np.asarray(logits, dtype=np.float32).reshape(len(encodings), -1)[:, 0]]


def has_reranker(path: Path) -> bool:
    return (path / "model.onnx").is_file() and (path / "tokenizer.json").is_file()


_cache: dict[str, tuple[Reranker | None, str | None]] = {}
_cache_lock = threading.Lock()


def load_reranker(enabled: bool = True, model_dir: str | None = None) -> tuple[Reranker | None, str | None]:
    """The reranker (cached per process), or ``(None, notice)`` when it is off or cannot be loaded (hybrid
    search then ranks by its fused features alone)."""
    if not enabled:
        return None, None
    path = Path(model_dir).expanduser() if model_dir else BUNDLED_RERANKER
    key = str(path)
    with _cache_lock:
        if key not in _cache:
            if not has_reranker(path):
                _cache[key] = (None, f"no reranker in {path}: hybrid results are ranked without it")
            else:
                try:
                    _cache[key] = (Reranker(path), None)
                except IndexError_ as exc:
                    _cache[key] = (None, f"{exc.message}: hybrid results are ranked without it")
        return _cache[key]


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
