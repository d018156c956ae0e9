"""Method names → tokenizer classes. Later methods register here."""

from __future__ import annotations

from pathlib import Path

from sidkit.errors import SidkitError
from sidkit.methods.adasid import AdaSID
from sidkit.methods.base import Tokenizer, read_model_dir
from sidkit.methods.das import DAS
from sidkit.methods.qarm import QARM
from sidkit.methods.quasid import QuaSID
from sidkit.methods.rq_kmeans import RQKMeans
from sidkit.methods.rqvae import RQVAE

METHODS: dict[str, type[Tokenizer]] = {cls.method: cls for cls in (RQKMeans, QARM, RQVAE, QuaSID, AdaSID, DAS)}


def make_tokenizer(name: str, **params) -> Tokenizer:
    cls = METHODS.get(name)
    if cls is None:
        raise SidkitError(f"unknown method {name!r}; expected one of {', '.join(METHODS)}")
    return cls(**params)


def load_tokenizer(directory: str | Path) -> Tokenizer:
    method, params, tensors = read_model_dir(directory)
    cls = METHODS.get(method)
    if cls is None:
        raise SidkitError(f"{Path(directory) / 'config.json'}: unknown method {method!r}")
    try:
        tok = cls.from_saved(params, tensors)
    except ValueError as e:
        raise SidkitError(f"{directory}: model tensors do not match its config: {e}") from None
    except (TypeError, KeyError, RuntimeError, IndexError) as e:
        raise SidkitError(f"{directory}: model tensors do not match its config ({type(e).__name__})") from None
    sizes = tok.codebook_sizes
    if not all(isinstance(k, int) and k >= 1 for k in sizes):
        raise SidkitError(f"{Path(directory) / 'config.json'}: codebook sizes {sizes}; expected positive integers")
    return tok
