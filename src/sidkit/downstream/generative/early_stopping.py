"""Keep the best epoch by validation NDCG@10, and stop after ``patience`` validations without a better one:
the training rule SASRec and TIGER share, so the baseline and the model are selected the same way."""

from __future__ import annotations

import sys
import time
from typing import Callable

import numpy as np
from torch import nn

from sidkit.downstream.generative.split import Examples
from sidkit.evaluate.retrieval import retrieval_metrics


class EarlyStopping:
    def __init__(self, net: nn.Module, name: str, epochs: int, every: int, patience: int,
                 progress: bool = False) -> None:
        self.net, self.name, self.epochs = net, name, epochs
        self.every, self.patience, self.progress = every, patience, progress
        self.history: list[dict[str, float]] = []
        self.best, self.bad, self.best_state = -1.0, 0, None
        self.t0 = time.perf_counter()

    def due(self, epoch: int) -> bool:
        """Validate after every ``every``-th epoch and after the last (``epoch`` counts from 0)."""
        return (epoch + 1) % self.every == 0 or epoch + 1 == self.epochs

    def stop(self, epoch: int, loss: float, valid: Examples, recommend: Callable[[Examples, int], np.ndarray]) -> bool:
        """Score ``valid``, log the epoch, keep the weights if they are the best so far; True: stop now."""
        score = retrieval_metrics(recommend(valid, 10), valid.target)["ndcg@10"]
        elapsed = time.perf_counter() - self.t0
        self.history.append({"epoch": epoch + 1, "loss": loss, "valid_ndcg@10": score, "seconds": round(elapsed, 1)})
        if self.progress:
            left = elapsed / (epoch + 1) * (self.epochs - epoch - 1)
            print(f"  {self.name} epoch {epoch + 1}/{self.epochs}: loss {loss:.4f}, valid NDCG@10 {score:.4f} "
                  f"({elapsed:.0f}s, at most {left:.0f}s left)", file=sys.stderr, flush=True)
        if score > self.best:
            self.best, self.bad = score, 0
            self.best_state = {k: v.clone() for k, v in self.net.state_dict().items()}
            return False
        self.bad += 1
        return self.bad >= self.patience

    def restore(self) -> None:
        """The best epoch's weights, in eval mode."""
        self.net.load_state_dict(self.best_state)
        self.net.eval()
