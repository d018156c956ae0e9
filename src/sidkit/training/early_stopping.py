"""Keep the weights of the best validated epoch, and stop after ``patience`` validations without a better
score: the rule TIGER, SASRec and QARM's alignment head share, so each is selected the same way."""

from __future__ import annotations

from typing import Any

from torch import nn


class EarlyStopping:
    """``mode="max"`` for a score (NDCG), ``"min"`` for a loss; a new best must beat the old by more
    than ``min_delta``. Validation is due after every ``every``-th epoch and after the last."""

    def __init__(self, net: nn.Module, *, patience: int, epochs: int | None = None, every: int = 1,
                 mode: str = "max", min_delta: float = 0.0) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode {mode!r}; expected 'max' or 'min'")
        self.net, self.patience, self.epochs, self.every = net, patience, epochs, every
        self.sign, self.min_delta = (1.0 if mode == "max" else -1.0), min_delta
        self.best, self.bad, self.best_state = float("-inf"), 0, None
        self.history: list[dict[str, Any]] = []

    def due(self, epoch: int) -> bool:
        """``epoch`` counts from 0."""
        return (epoch + 1) % self.every == 0 or (self.epochs is not None and epoch + 1 == self.epochs)

    def update(self, epoch: int, score: float, **logged: Any) -> bool:
        """Log the epoch, keep the weights if ``score`` is the best so far; True: stop now."""
        self.history.append({"epoch": epoch + 1, **logged})
        if self.sign * score > self.best + self.min_delta:
            self.best, self.bad = self.sign * score, 0
            self.best_state = {k: v.clone() for k, v in self.net.state_dict().items()}
            return False
        self.bad += 1
        return self.bad >= self.patience

    def restore(self) -> None:
        """The best epoch's weights (if any epoch was validated), in eval mode."""
        if self.best_state is not None:
            self.net.load_state_dict(self.best_state)
        self.net.eval()
