"""The tokenizer contract every method follows (scikit-learn style).

    tok = Method(params...)          # parameters only, no work
    tok.fit(x, pairs)                # x: item content embeddings [N, d]; pairs: mined item pairs (or None)
    tok.labels_                      # codes of the fitted items [N, L]
    tok.encode(x_new)                # codes of any items [M, L], frozen model
    tok.save(dir); load_tokenizer(dir)

Artifacts are a JSON config plus safetensors tensors: loading a model folder never runs code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from safetensors.numpy import load_file, save_file

from sidkit.atomic import write_file, write_json
from sidkit.collab.item_pairs import ItemPairs
from sidkit.errors import SidkitError


class Tokenizer:
    method: ClassVar[str]
    needs_pairs: ClassVar[bool] = False

    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}

    @property
    def codebook_sizes(self) -> list[int]:
        raise NotImplementedError

    def fit(self, x: np.ndarray, pairs: ItemPairs | None = None) -> "Tokenizer":
        raise NotImplementedError

    def encode(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def candidates(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``encode(x)`` and, per row, the ``k`` nearest last-level codes [N, k] (nearest first): the
        choices collision re-assignment has (sids.collisions)."""
        raise SidkitError(f"{self.method} cannot list last-level candidates; expected collision mode "
                          "'disambiguate' for this method")

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
        tok = cls(**params)
        tok._restore(tensors)
        return tok


def check_param(name: str, value: Any, default: Any) -> None:
    """Refuse a parameter value whose type differs from its default's (JSON from the command line)."""
    if default is None:
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise SidkitError(f"parameter {name}={json.dumps(value)}: expected {type(default).__name__} "
                          f"like the default {json.dumps(default)}")


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
