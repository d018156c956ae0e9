"""Validation for TIGER and SASRec: NDCG@10 on the validation examples, fed to the shared early stopping
(training/early_stopping.py), with an ETA line, so the baseline and the model are selected the same way."""

from __future__ import annotations

import sys
import time
from typing import Callable

import numpy as np
from torch import nn

from sidkit.downstream.generative.split import Examples
from sidkit.evaluate.retrieval import retrieval_metrics
from sidkit.training.early_stopping import EarlyStopping


class ValidatedStopping(EarlyStopping):
    def __init__(self, net: nn.Module, name: str, epochs: int, every: int, patience: int,
                 progress: bool = False) -> None:
        super().__init__(net, patience=patience, epochs=epochs, every=every, mode="max")
        self.name, self.progress = name, progress
        self.t0 = time.perf_counter()

    def stop(self, epoch: int, loss: float, valid: Examples, recommend: Callable[[Examples, int], np.ndarray]) -> bool:
        """Score ``valid``, log the epoch, keep the weights if they are the best so far; True: stop now."""
        score = retrieval_metrics(recommend(valid, 10), valid.target)["ndcg@10"]
        elapsed = time.perf_counter() - self.t0
        if self.progress:
            left = elapsed / (epoch + 1) * (self.epochs - epoch - 1)
            print(f"  {self.name} epoch {epoch + 1}/{self.epochs}: loss {loss:.4f}, valid NDCG@10 {score:.4f} "
                  f"({elapsed:.0f}s, at most {left:.0f}s left)", file=sys.stderr, flush=True)
        return self.update(epoch, score, loss=loss, **{"valid_ndcg@10": score, "seconds": round(elapsed, 1)})
