"""Method names → tokenizer classes. A tokenizer registers itself when its class is defined
(``Tokenizer.__init_subclass__``); this module makes sure every module that defines one was imported:
sidkit's own (every module of ``sidkit.methods``) and other distributions' (entry points in the group
``sidkit.methods``)."""

from __future__ import annotations

from pathlib import Path

from sidkit.errors import SidkitError
from sidkit.methods.base import METHODS, Tokenizer, read_model_dir
from sidkit.plugins import import_all

import_all("sidkit.methods", "sidkit.methods")


def method_names() -> list[str]:
    return sorted(METHODS)


def method_class(name: str) -> type[Tokenizer]:
    cls = METHODS.get(name)
    if cls is None:
        raise SidkitError(f"unknown method {name!r}; expected one of {', '.join(method_names())}")
    return cls


def make_tokenizer(name: str, **params) -> Tokenizer:
    cls = method_class(name)
    tok = cls(**params)
    tok.check_params()
    return tok


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
