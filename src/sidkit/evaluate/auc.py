"""AUC, UAUC and GAUC: the ranking metrics of QARM (and of industrial CTR work generally).

- AUC: over all samples (scikit-learn's ``roc_auc_score``).
- UAUC: the mean of per-user AUCs, over users whose samples hold both labels.
- GAUC: the same per-user AUCs weighted by each user's number of samples.

A user with one class only has no AUC and is skipped by both, as is usual; ``n_users`` says how many
counted, so a reader can tell a GAUC over ten users from one over ten thousand.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    labels = np.asarray(labels)
    if labels.min() == labels.max():
        return float("nan")
    return float(roc_auc_score(labels, scores))


def per_user_auc(labels: np.ndarray, scores: np.ndarray, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(AUC, sample count) of every user with both labels."""
    labels, scores, users = np.asarray(labels), np.asarray(scores), np.asarray(users)
    order = np.argsort(users, kind="stable")
    sorted_users = users[order]
    bounds = np.flatnonzero(sorted_users[1:] != sorted_users[:-1]) + 1
    aucs, counts = [], []
    for rows in np.split(order, bounds):
        y = labels[rows]
        if 0 < y.sum() < len(y):
            aucs.append(roc_auc_score(y, scores[rows]))
            counts.append(len(rows))
    return np.asarray(aucs, dtype=np.float64), np.asarray(counts, dtype=np.float64)


def ranking_metrics(labels: np.ndarray, scores: np.ndarray, users: np.ndarray) -> dict:
    """{"auc", "uauc", "gauc", "n", "n_users"}; NaN where no AUC exists (one class only)."""
    aucs, counts = per_user_auc(labels, scores, users)
    return {"auc": auc(labels, scores) if len(labels) else float("nan"),
            "uauc": float(aucs.mean()) if len(aucs) else float("nan"),
            "gauc": float((aucs * counts).sum() / counts.sum()) if len(aucs) else float("nan"),
            "n": int(len(labels)), "n_users": int(len(aucs))}
