"""The tokenizer contract every method follows (scikit-learn style).

    tok = Method(params...)          # parameters only, no work
    tok.fit(x, pairs)                # x: item content embeddings [N, d]; pairs: mined item pairs (or None)
    tok.labels_                      # codes of the fitted items [N, L]
    tok.encode(x_new)                # codes of any items [M, L], frozen model
    tok.save(dir); load_tokenizer(dir)

Artifacts are a JSON config plus safetensors tensors: loading a model folder never runs code.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from safetensors.numpy import load_file, save_file

from sidkit.atomic import write_file, write_json
from sidkit.collab.item_pairs import ItemPairs
from sidkit.errors import SidkitError
from sidkit.params import Constraint, at_least, check_params, params_of

METHODS: dict[str, type["Tokenizer"]] = {}  # filled as tokenizer classes are defined (see registry.py)

# Public methods that read fitted state: calling one before fit (or load) is a one-line error.
_NEEDS_FIT = ("encode", "candidates", "transform", "decode", "decode_target", "vq_encode", "encode_users")


class Tokenizer:
    """Base of every method. A subclass that sets ``method`` registers itself under that name, and the
    registry, the command line (one typed flag per constructor parameter), ``bench``, ``assign`` and the
    report find it there. What a subclass declares:

    - ``method``: its name; ``needs_pairs`` / ``needs_interactions`` / ``needs_users``: what ``fit`` wants
      beside ``x`` (mined pairs; the training clicks; the users' content embeddings as well);
    - ``constraints``: {parameter: constraint} beyond the annotated types (``sidkit.params``);
    - ``fixed_params``: inherited parameters the class sets itself (not the user's to choose);
    - ``param_help``: {parameter: a few words} for its command-line flag (optional).
    """

    method: ClassVar[str]
    needs_pairs: ClassVar[bool] = False
    needs_interactions: ClassVar[bool] = False
    needs_users: ClassVar[bool] = False
    fixed_params: ClassVar[tuple[str, ...]] = ()
    param_help: ClassVar[dict[str, str]] = {}
    constraints: ClassVar[dict[str, Constraint]] = {"levels": at_least(1), "codebook_size": at_least(1)}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _NEEDS_FIT:
            if name in cls.__dict__:
                setattr(cls, name, _fitted_only(cls.__dict__[name]))
        if "method" in cls.__dict__:
            METHODS[cls.method] = cls

    # --- parameters (scikit-learn's contract: the constructor's arguments, nothing else) ---------
    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in params_of(type(self))}

    def set_params(self, **params: Any) -> "Tokenizer":
        check_params(self.method, type(self), params)
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def check_params(self) -> None:
        """Every parameter against its type and the class's constraints: fails before any work."""
        check_params(self.method, type(self), self.get_params())

    @property
    def codebook_sizes(self) -> list[int]:
        """Codes per level; every built-in method has ``levels`` × ``codebook_size``."""
        return [self.codebook_size] * self.levels

    def fit(self, x: np.ndarray, pairs: ItemPairs | None = None) -> "Tokenizer":
        raise NotImplementedError

    def encode(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def candidates(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``encode(x)`` and, per row, the ``k`` nearest last-level codes [N, k] (nearest first): the
        choices collision re-assignment has (sids.collisions)."""
        raise SidkitError(f"{self.method} cannot list last-level candidates; expected collision mode "
                          "'disambiguate' for this method")

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """The vectors [N, d] that ``codes`` [N, L] stand for, in the space of ``decode_target(x)``."""
        raise SidkitError(f"{self.method} cannot decode codes; expected a method with a decoder")

    def decode_target(self, x: np.ndarray) -> np.ndarray:
        """What ``decode(encode(x))`` reconstructs: ``x`` itself, unless the codes quantise a transform of it
        (QARM's aligned space)."""
        return x

    def reconstruction_mse(self, x: np.ndarray, codes: np.ndarray | None = None) -> float:
        """Mean squared error per dimension of ``decode(codes)`` against ``decode_target(x)`` (``codes``
        default: ``encode(x)``)."""
        x = np.asarray(x, dtype=np.float32)
        codes = self.encode(x) if codes is None else codes
        return float(np.mean((self.decode_target(x) - self.decode(codes)) ** 2, dtype=np.float64))

    # --- artifacts -------------------------------------------------------------------------------
    def _tensors(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _restore(self, tensors: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def save(self, directory: str | Path) -> None:
        d = Path(directory)
        tensors = {k: np.ascontiguousarray(v) for k, v in self._tensors().items()}
        write_file(d / "tensors.safetensors", lambda tmp: save_file(tensors, str(tmp)))
        write_json(d / "config.json", {"method": self.method, "params": self.get_params()})

    @classmethod
    def from_saved(cls, params: dict[str, Any], tensors: dict[str, np.ndarray]) -> "Tokenizer":
        # folders saved before a parameter became fixed still name it; the class sets it now
        tok = cls(**{k: v for k, v in params.items() if k not in cls.fixed_params})
        tok._restore(tensors)
        return tok


def clone(tok: Tokenizer) -> Tokenizer:
    """A new, unfitted tokenizer with the same parameters (scikit-learn's ``clone``)."""
    return type(tok)(**copy.deepcopy(tok.get_params()))


def is_fitted(tok: Tokenizer) -> bool:
    """Fitted or loaded: it holds learned state (attributes ending in ``_``, scikit-learn's convention)."""
    return any(k.endswith("_") and not k.startswith("__") for k in vars(tok))


def _fitted_only(fn):
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        if not is_fitted(self):
            raise SidkitError(f"{self.method}: {fn.__name__} before fit; expected fit(x) first, or a model "
                              "folder loaded with load_tokenizer")
        return fn(self, *args, **kwargs)
    return wrapper


def read_model_dir(directory: str | Path) -> tuple[str, dict[str, Any], dict[str, np.ndarray]]:
    d = Path(directory)
    cfg_path = d / "config.json"
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        method, params = cfg["method"], cfg["params"]
    except FileNotFoundError:
        raise SidkitError(f"{cfg_path}: no such file; expected a sidkit model folder") from None
    except (ValueError, KeyError, TypeError):
        raise SidkitError(f"{cfg_path}: expected JSON with 'method' and 'params'") from None
    try:
        tensors = load_file(str(d / "tensors.safetensors"))
    except FileNotFoundError:
        raise SidkitError(f"{d / 'tensors.safetensors'}: no such file; expected the model's tensors") from None
    except Exception as e:  # safetensors raises its own error type for a corrupt header
        raise SidkitError(f"{d / 'tensors.safetensors'}: not a valid safetensors file ({type(e).__name__})") from None
    return method, params, tensors
