"""Collaborative factors as one more modality of an item's input, for catalogues whose content cannot
tell items apart (product variants with one description, businesses known by their category list).

Every tokenizer maps equal inputs to equal codes, so codes can only separate items whose *input*
differs. Here the input is the content embedding fused (content/fusion.py) with item factors learned
from the training clicks (collab/item_factors.py): ``weight`` is the CF part's share of the squared
norm, so the cosine of two inputs is ``(1 - weight) · cos(content) + weight · cos(cf)``.

Items without training clicks have no factors. ``cold`` says what stands in for them:
- ``mapped`` (default): a ridge regression from content to the warm items' normalised factors, fitted on
  the warm items, predicts the CF part. A cold item then sits where warm items with its content sit,
  and two cold items with equal content still get equal inputs (nothing else is known about them).
- ``zero``: no CF part; the input is the content part alone, scaled by sqrt(1 - weight).
New items given to ``sidkit assign`` are cold by definition: they get the same stand-in. The mapping
(content dim × cf dim floats) is all the model folder needs for that, whatever the catalogue's size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sidkit.atomic import write_file
from sidkit.collab.item_factors import KINDS, item_factors
from sidkit.content.fusion import fuse_modalities, l2_normalize
from sidkit.data.types import Interactions
from sidkit.errors import SidkitError

COLD_RULES = ("mapped", "zero")
FILE = "cf_input.safetensors"


class CFInput:
    """After ``fit``: ``factors_`` [n_items, dim] (normalised, cold rows filled), ``warm_`` [n_items] bool,
    ``mapping_`` [content dim, dim] (``cold='mapped'``)."""

    def __init__(self, kind: str = "cooc", weight: float = 0.2, dim: int = 64, cold: str = "mapped",
                 ridge: float = 0.1, seed: int = 0) -> None:
        self.kind, self.weight, self.dim, self.cold, self.ridge, self.seed = kind, weight, dim, cold, ridge, seed
        self.check()

    def check(self) -> None:
        if self.kind not in KINDS:
            raise SidkitError(f"--cf-input {self.kind!r}; expected one of {', '.join(KINDS)}")
        if not 0 < self.weight <= 1:
            raise SidkitError(f"--cf-weight {self.weight}; expected a share in (0, 1]")
        if self.cold not in COLD_RULES:
            raise SidkitError(f"--cf-cold {self.cold!r}; expected one of {', '.join(COLD_RULES)}")
        if self.dim < 1 or self.ridge <= 0:
            raise SidkitError(f"--cf-dim {self.dim}, ridge {self.ridge}; expected both positive")

    def fit(self, train: Interactions, content: np.ndarray) -> "CFInput":
        if len(content) != train.n_items:
            raise SidkitError(f"CF input: {len(content)} content rows for {train.n_items} items; expected one per item")
        factors, warm = item_factors(train, self.kind, self.dim, self.seed)
        if not warm.any():
            raise SidkitError("--cf-input: no item has training clicks that say anything (every user clicked one "
                              "item); expected users with two or more items")
        factors = l2_normalize(factors)
        content = l2_normalize(content)
        self.mapping_ = self._fit_mapping(content[warm], factors[warm]) if self.cold == "mapped" else None
        factors[~warm] = self.cold_part(content[~warm])
        self.factors_, self.warm_ = factors, warm
        return self

    def _fit_mapping(self, x: np.ndarray, f: np.ndarray) -> np.ndarray:
        """Ridge regression content → factors. The penalty is ``ridge`` times the mean eigenvalue of
        XᵀX, so the same ``ridge`` means the same shrinkage on 4 thousand or 4 million items."""
        x64 = x.astype(np.float64)
        gram = x64.T @ x64
        gram[np.diag_indices_from(gram)] += self.ridge * np.trace(gram) / len(gram)
        return np.linalg.solve(gram, x64.T @ f.astype(np.float64)).astype(np.float32)

    def cold_part(self, content: np.ndarray) -> np.ndarray:
        """The CF part of items without clicks (normalised; zeros under ``cold='zero'``)."""
        if self.cold == "zero" or len(content) == 0:
            return np.zeros((len(content), self.dim), np.float32)
        return l2_normalize(l2_normalize(content) @ self.mapping_)

    def fitted_input(self, content: np.ndarray) -> np.ndarray:
        """The tokenizer's input for the fitted catalogue."""
        return self.fuse(content, self.factors_)

    def new_input(self, content: np.ndarray) -> np.ndarray:
        """The input of new items (cold: no clicks in the fit's training part)."""
        return self.fuse(content, self.cold_part(content))

    def fuse(self, content: np.ndarray, cf: np.ndarray) -> np.ndarray:
        if self.weight == 1:
            return np.ascontiguousarray(cf, dtype=np.float32)
        return fuse_modalities({"content": content, "cf": cf}, {"content": 1 - self.weight, "cf": self.weight})

    def spec(self) -> dict:
        """JSON for the manifest's content spec; ``load`` reads it back."""
        return {"kind": self.kind, "weight": self.weight, "dim": self.dim, "cold": self.cold, "ridge": self.ridge,
                "seed": self.seed, "warm_items": int(self.warm_.sum()), "cold_items": int((~self.warm_).sum()),
                "file": FILE}

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        tensors = {"mapping": self.mapping_} if self.mapping_ is not None else {"none": np.zeros(0, np.float32)}
        write_file(Path(folder) / FILE, lambda tmp: save_file(tensors, str(tmp)))

    @classmethod
    def load(cls, folder: Path, spec: dict) -> "CFInput":
        from safetensors.numpy import load_file

        path = Path(folder) / spec.get("file", FILE)
        try:
            cf = cls(**{k: spec[k] for k in ("kind", "weight", "dim", "cold", "ridge", "seed")})
        except KeyError as e:
            raise SidkitError(f"{Path(folder) / 'manifest.json'}: content.cf has no {e}; expected a spec written "
                              "by sidkit fit --cf-input") from None
        try:
            tensors = load_file(str(path))
        except FileNotFoundError:
            raise SidkitError(f"{path}: no such file; expected the CF input's mapping written by sidkit fit") from None
        except Exception as e:  # safetensors raises its own error type for a corrupt header
            raise SidkitError(f"{path}: not a valid safetensors file ({type(e).__name__})") from None
        cf.mapping_ = tensors.get("mapping")
        if cf.cold == "mapped" and (cf.mapping_ is None or cf.mapping_.shape[1] != cf.dim):
            raise SidkitError(f"{path}: no mapping of width {cf.dim}; expected the file sidkit fit wrote")
        return cf


def cf_for_model(folder: str | Path, spec: dict | None) -> CFInput | None:
    """The CF input a fitted folder's content spec names (None for a content-only model)."""
    cf = (spec or {}).get("cf")
    return CFInput.load(Path(folder), cf) if cf else None
