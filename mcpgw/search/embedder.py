"""Embedders: text -> unit vectors. The default runs a local model with onnxruntime + tokenizers (no
torch): ``mcpgw-code-minilm-l6``, all-MiniLM-L6-v2 fine-tuned for finding code from a description, which
ships inside the package (int8, 23 MB; how it was made: ``scripts/train_code_embedder.py``). The stock
all-MiniLM-L6-v2 (``search.embedder = "minilm"``), Ollama and OpenAI are alternatives chosen in config.

The local model is looked for in the configured directory, then ``$MCPGW_EMBED_MODEL_DIR``, then the
bundled model; the stock model in the user cache, then the cache ``scripts/prepare_embedding_model.py``
fills, and is downloaded from the model hub into the user cache when online. When no embedder can be had,
:func:`load_embedder` returns ``None`` with a one-line notice and search runs keyword-only.
numpy, onnxruntime and tokenizers are imported only when an embedder is built.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mcpgw.errors import ConfigError, IndexError_, UpstreamError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]

log = logging.getLogger(__name__)

MODEL_DIRNAME = "all-MiniLM-L6-v2-onnx"
BUNDLED_MODEL = Path(__file__).resolve().parent / "models" / "mcpgw-code-minilm-l6"
HUB_REPO = "sentence-transformers/all-MiniLM-L6-v2"
PREPARE_HINT = "run `python scripts/prepare_embedding_model.py` (or set search.model_dir to a directory "
PREPARE_HINT += "holding model.onnx + tokenizer.json); search works keyword-only meanwhile"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of size ``dim``."""

    name: str  # identifies model + settings; a different name means stored vectors must be rebuilt
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> Vectors: ...

    def embed_query(self, text: str) -> Vectors: ...


#: Tokens of a document a local model reads (the rest of a long chunk is cut): ``search.max_tokens``.
DEFAULT_MAX_TOKENS = 256

#: The chunk kinds a query-kind prior (``query-kind.json`` beside a local model) tells apart.
QUERY_KINDS = ("class", "function", "method")


class KindPrior:
    """How much more (or less) likely than usual a query's answer is a class, a function or a method:
    log P(kind | query vector) - log P(kind), from a multinomial logistic regression fitted by
    ``scripts/fit_query_kind.py`` for one model (its ``query-kind.json``)."""

    def __init__(self, data: dict[str, Any]) -> None:
        import numpy as np

        kinds = tuple(data["kinds"])
        self.weights = np.asarray(data["weights"], dtype=np.float32)  # (kinds, dim)
        self.bias = np.asarray(data["bias"], dtype=np.float32)
        self.log_prior = np.log(np.asarray(data["prior"], dtype=np.float32))
        if self.weights.ndim != 2 or not (len(kinds) == len(self.bias) == len(self.log_prior) == len(self.weights)):
            raise ValueError("query-kind.json: kinds, prior, bias and weights disagree in size")
        self.kinds = kinds
        self.dim = int(self.weights.shape[1])

    @classmethod
    def load(cls, model_dir: Path, dim: int) -> KindPrior | None:
        """The prior of ``model_dir``, or None when it has none (or one for another dimension, or unreadable:
        search then simply goes without this feature)."""
        path = model_dir / "query-kind.json"
        if not path.is_file():
            return None
        try:
            prior = cls(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring %s: %s", path, exc)
            return None
        return prior if prior.dim == dim else None

    def __call__(self, vector: Any) -> dict[str, float]:
        import numpy as np

        z = self.weights @ vector + self.bias
        log_p = z - z.max() - np.log(np.exp(z - z.max()).sum())
        return {k: float(v) for k, v in zip(self.kinds, log_p - self.log_prior, strict=True)}


DOC_FORMAT = (
    4  # version of the document vectors built by mcpgw.search.index (embed_text, header_text); bump when they change
)


def index_name(embedder: Embedder) -> str:
    """The embedder name stored with an index: model and document format (either changing means the
    stored vectors must be rebuilt). Format 1 is the bare model name; format 2 (code as words) re-embeds
    indexes built with format 1 on their next index run; format 3 mixes a header vector into each
    definition's; format 4 finds the end of a long signature (a typer command's, a FastAPI route's) by its
    brackets, so the header keeps the docstring."""
    return embedder.name if DOC_FORMAT == 1 else f"{embedder.name}#doc{DOC_FORMAT}"


def _normalise(vectors: Any) -> Vectors:
    import numpy as np

    arr = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    out: Vectors = arr / np.clip(norms, 1e-12, None)
    return out


def _ort_errors(module: Any) -> tuple[type[BaseException], ...]:
    """onnxruntime's load errors (pybind classes deriving straight from Exception)."""
    names = ("Fail", "InvalidArgument", "NoSuchFile", "NoModel", "InvalidProtobuf", "InvalidGraph", "RuntimeException")
    return tuple(getattr(module, n) for n in names if hasattr(module, n))


def load_onnx(model: Path, tokenizer_file: Path, *, what: str, fix: str, threads: int | None = None) -> tuple[Any, Any]:
    """A tokenizer and a CPU inference session for ``model``; anything unreadable or malformed becomes an
    :class:`IndexError_` naming ``what`` and where, with ``fix``."""
    import onnxruntime as ort
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors
    from tokenizers import Tokenizer

    where = model.parent
    try:
        json.loads(tokenizer_file.read_text("utf-8"))
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
    except (OSError, ValueError) as exc:
        raise IndexError_(f"cannot load {what} in {where}: {exc}", fix=fix) from exc
    except Exception as exc:  # tokenizers reports a malformed file as a bare Exception
        raise IndexError_(f"cannot load {what}'s tokenizer in {where}: {exc}", fix=fix) from exc
    try:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    except (OSError, ValueError, *_ort_errors(ort_errors)) as exc:  # type: ignore[misc]
        raise IndexError_(f"cannot load {what} in {where}: {exc}", fix=fix) from exc
    return tokenizer, session


def version_tag(model_dir: Path) -> str:
    """``@N`` when the model's ``mcpgw-model.json`` gives a ``version`` (a model replaced in place, like the
    bundled one after a re-training, then gets a new name, so indexes built with the old one re-embed)."""
    try:
        version = json.loads((model_dir / "mcpgw-model.json").read_text("utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        return ""
    return f"@{version}" if isinstance(version, int | str) and version not in ("", 1) else ""


class LocalEmbedder:
    """all-MiniLM-L6-v2 (or any BERT-style sentence model exported to ONNX) with mean pooling."""

    def __init__(
        self, model_dir: Path, *, max_tokens: int = DEFAULT_MAX_TOKENS, batch_size: int = 8, threads: int | None = None
    ):
        model = model_dir / "model.onnx"
        if not model.is_file():
            model = model_dir / "onnx" / "model.onnx"
        self._tokenizer, self._session = load_onnx(
            model, model_dir / "tokenizer.json", what="the embedding model", fix=PREPARE_HINT, threads=threads
        )
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.max_tokens = max_tokens
        # 8, not 32: batches of similar length pad less, and attention's working memory grows with the batch.
        # Measured on two cores over 650-800 real chunks: 100-131 -> 119-170 chunks/s, peak RSS 643 -> 292 MB.
        self.batch_size = batch_size
        self.model_dir = model_dir
        self.dim = int(self._session.get_outputs()[0].shape[-1] or 384)
        # a different token limit makes different vectors: the index is rebuilt rather than mixed
        limit = "" if max_tokens == DEFAULT_MAX_TOKENS else f"/t{max_tokens}"
        self.name = f"local:{model_dir.name}{version_tag(model_dir)}{limit}"
        self.kind_prior = KindPrior.load(model_dir, self.dim)
        self._lock = threading.Lock()  # one inference at a time: both threads already use all cores

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # batch similar lengths
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for lo in range(0, len(order), self.batch_size):
            batch = order[lo : lo + self.batch_size]
            out[batch] = self._run([encodings[i] for i in batch])
        return out

    def embed_query(self, text: str) -> Vectors:
        return self.embed_documents([text])

    def _run(self, encodings: list[Any]) -> Vectors:
        import numpy as np

        sep_id = encodings[0].ids[-1]
        limit = self.max_tokens
        rows = [[*e.ids[: limit - 1], sep_id] if len(e.ids) > limit else e.ids for e in encodings]
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        with self._lock:
            hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return _normalise(pooled)


class _HTTPEmbedder:
    """Shared batching and error mapping for remote embedding APIs."""

    name: str
    dim: int
    provider: str
    batch_size = 64
    query_prefix = ""
    document_prefix = ""

    def _request(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        rows: list[list[float]] = []
        for lo in range(0, len(texts), self.batch_size):
            rows.extend(self._request([self.document_prefix + t for t in texts[lo : lo + self.batch_size]]))
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(rows)

    def embed_query(self, text: str) -> Vectors:
        return _normalise(self._request([self.query_prefix + text]))

    def _post(self, url: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        import httpx

        try:
            response = httpx.post(url, json=payload, headers=headers, timeout=60.0)
            response.raise_for_status()
            return response.json()
        except httpx.HTTPStatusError as exc:
            raise UpstreamError(
                f"{self.provider} embeddings failed: HTTP {exc.response.status_code} {exc.response.text[:200]}",
                provider=self.provider,
            ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{self.provider} embeddings failed: {exc}", provider=self.provider) from exc

    def _probe(self) -> None:
        self.dim = len(self._request(["dimension probe"])[0])


class OllamaEmbedder(_HTTPEmbedder):
    """Embeddings from a local Ollama server (``/api/embed``)."""

    provider = "ollama"

    def __init__(self, model: str, host: str | None = None) -> None:
        self.host = (host or os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434").rstrip("/")
        if not self.host.startswith("http"):
            self.host = f"http://{self.host}"
        self.model = model
        if model.startswith("nomic-embed"):
            self.query_prefix, self.document_prefix = "search_query: ", "search_document: "
        self.name = f"ollama:{model}"
        self._probe()

    def _request(self, texts: list[str]) -> list[list[float]]:
        data = self._post(f"{self.host}/api/embed", {"model": self.model, "input": texts})
        return list(data["embeddings"])


class OpenAIEmbedder(_HTTPEmbedder):
    """Embeddings from the OpenAI API (or a compatible base URL in ``OPENAI_BASE_URL``)."""

    provider = "openai"

    def __init__(self, model: str, api_key: str | None = None, base_url: str | None = None) -> None:
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            raise ConfigError(
                "search.embedder is 'openai' but no OpenAI API key is set",
                fix='export OPENAI_API_KEY=…, or set search.embedder = "local"',
            )
        self._headers = {"Authorization": f"Bearer {key}"}
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        self.model = model
        self.name = f"openai:{model}"
        self._probe()

    def _request(self, texts: list[str]) -> list[list[float]]:
        data = self._post(f"{self.base_url}/embeddings", {"model": self.model, "input": texts}, self._headers)
        return [item["embedding"] for item in sorted(data["data"], key=lambda d: d["index"])]


# --- resolving the local model -------------------------------------------------------------------------


def _has_model(path: Path) -> bool:
    return (path / "tokenizer.json").is_file() and (
        (path / "model.onnx").is_file() or (path / "onnx" / "model.onnx").is_file()
    )


def user_model_dir() -> Path:
    """Where a downloaded model is kept: the user cache (``MCPGW_HOME`` relocates it)."""
    home = os.environ.get("MCPGW_HOME")
    if home:
        return Path(home) / "cache" / "models" / MODEL_DIRNAME
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mcpgw")) / "models" / MODEL_DIRNAME


def _online(host: str = "huggingface.co", timeout: float = 1.5) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _download(target: Path) -> bool:
    """Fetch the ONNX export and tokenizer of all-MiniLM-L6-v2 from the hub into ``target``."""
    if not _online():
        return False
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    staging = target.with_name(target.name + ".partial")
    try:
        for filename in ("onnx/model.onnx", "tokenizer.json"):
            hf_hub_download(HUB_REPO, filename, local_dir=staging, etag_timeout=5)
    except (HfHubHTTPError, OSError, ValueError) as exc:
        log.warning("model download failed: %s", exc)
        return False
    (staging / "onnx" / "model.onnx").replace(staging / "model.onnx")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.replace(target)
    return True


@dataclass(frozen=True)
class ModelLookup:
    """Where the local model was found (``path`` None when nowhere), and every place that was tried."""

    path: Path | None
    tried: tuple[str, ...]


def resolve_model_dir(
    configured: str | None = None, *, allow_download: bool = True, stock: bool = False
) -> ModelLookup:
    """Find the local model: config dir → ``$MCPGW_EMBED_MODEL_DIR`` → the bundled code model (unless
    ``stock``) → the stock all-MiniLM-L6-v2 in the user cache → in the cache that
    ``scripts/prepare_embedding_model.py`` fills (``$MCPGW_MODEL_CACHE`` or ``~/.cache/mcpgw-models``) → hub.
    A configured directory is the only place looked in: a wrong ``search.model_dir`` is reported, not
    silently replaced by another model."""
    if configured:
        path = Path(configured).expanduser()
        return ModelLookup(path if _has_model(path) else None, (str(path),))
    tried: list[str] = []
    prepared = Path(os.environ.get("MCPGW_MODEL_CACHE") or Path.home() / ".cache" / "mcpgw-models")
    candidates = [
        os.environ.get("MCPGW_EMBED_MODEL_DIR"),
        None if stock else str(BUNDLED_MODEL),
        str(user_model_dir()),
        str(prepared / "all-MiniLM-L6-v2-onnx"),
    ]
    for candidate in candidates:
        if not candidate:
            continue
        path = Path(candidate).expanduser()
        tried.append(str(path))
        if _has_model(path):
            return ModelLookup(path, tuple(tried))
    if allow_download:
        tried.append(f"hub:{HUB_REPO}")
        target = user_model_dir()
        if _download(target) and _has_model(target):
            return ModelLookup(target, tuple(tried))
    return ModelLookup(None, tuple(tried))


_cache: dict[tuple[str, str], tuple[Embedder | None, str | None]] = {}
_cache_lock = threading.Lock()


def load_embedder(
    kind: str = "local",
    *,
    model_dir: str | None = None,
    ollama_model: str = "nomic-embed-text",
    openai_model: str = "text-embedding-3-small",
    allow_download: bool = True,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> tuple[Embedder | None, str | None]:
    """The configured embedder (cached per process), or ``(None, notice)`` when none can be had."""
    key = (kind, f"{model_dir}|{ollama_model}|{openai_model}|{max_tokens}")
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        result = _build(kind, model_dir, ollama_model, openai_model, allow_download, max_tokens)
        if result[0] is not None or kind in ("local", "minilm"):
            _cache[key] = result  # remote failures are retried on the next call
        return result


def _build(
    kind: str, model_dir: str | None, ollama_model: str, openai_model: str, allow_download: bool, max_tokens: int
) -> tuple[Embedder | None, str | None]:
    if kind == "none":
        return None, 'embeddings are off (search.embedder = "none"): keyword search only'
    if kind == "ollama":
        try:
            return OllamaEmbedder(ollama_model), None
        except UpstreamError as exc:
            return None, f"Ollama embeddings unavailable ({exc.message}): keyword search only"
    if kind == "openai":
        try:
            return OpenAIEmbedder(openai_model), None
        except (UpstreamError, ConfigError) as exc:
            return None, f"OpenAI embeddings unavailable ({exc.message}): keyword search only"
    if kind not in ("local", "minilm"):
        raise ConfigError(
            f"unknown search.embedder {kind!r}", fix='use "local", "minilm", "ollama", "openai" or "none"'
        )
    lookup = resolve_model_dir(model_dir, allow_download=allow_download, stock=kind == "minilm")
    if lookup.path is None:
        return None, f"no local embedding model found (looked in {', '.join(lookup.tried)}): {PREPARE_HINT}"
    return LocalEmbedder(lookup.path, max_tokens=max_tokens), None


def clear_cache() -> None:
    """Forget loaded embedders (tests, config reload)."""
    with _cache_lock:
        _cache.clear()
