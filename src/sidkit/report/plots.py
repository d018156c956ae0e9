"""Matplotlib figures for the report, each returned as PNG bytes (Agg backend: no display needed)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def code_usage(codes_by_method: dict[str, np.ndarray], sizes: dict[str, list[int]]) -> bytes:
    """Items per code, sorted, per level: a flat curve is balanced use, a cliff is collapse."""
    levels = max(c.shape[1] for c in codes_by_method.values())
    fig, axes = plt.subplots(1, levels, figsize=(4.2 * levels, 3.2), squeeze=False)
    for lvl in range(levels):
        ax = axes[0, lvl]
        for name, codes in codes_by_method.items():
            if lvl < codes.shape[1]:
                counts = np.sort(np.bincount(codes[:, lvl], minlength=sizes[name][lvl]))[::-1]
                ax.plot(np.arange(1, len(counts) + 1), np.maximum(counts, 0.8), label=name)
        ax.set_yscale("log")
        ax.set_title(f"level {lvl + 1}: items per code (sorted)")
        ax.set_xlabel("code rank")
        ax.legend(fontsize=8)
    return _png(fig)


def bucket_sizes(codes_by_method: dict[str, np.ndarray]) -> bytes:
    """How many items share each full code tuple (1 = no collision)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    width = 0.8 / len(codes_by_method)
    for k, (name, codes) in enumerate(codes_by_method.items()):
        _, counts = np.unique(codes, axis=0, return_counts=True)
        sizes, n = np.unique(counts, return_counts=True)
        ax.bar(sizes + (k - (len(codes_by_method) - 1) / 2) * width, n * sizes, width=width, label=name)
    ax.set_xlabel("items on the same full SID (bucket size)")
    ax.set_ylabel("items")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    return _png(fig)


def projection(points: dict[str, np.ndarray], first_codes: dict[str, np.ndarray]) -> bytes:
    """2-D PCA of each method's item space, coloured by the first code (same colour = same level-1 code)."""
    fig, axes = plt.subplots(1, len(points), figsize=(5 * len(points), 4.6), squeeze=False)
    for ax, (name, x) in zip(axes[0], points.items()):
        xc = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(xc[: min(len(xc), 20000)], full_matrices=False)
        xy = xc @ vt[:2].T
        if xy.shape[1] < 2:  # one item, or 1-d vectors: no second direction to project on
            xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))
        ax.scatter(xy[:, 0], xy[:, 1], c=first_codes[name] % 20, cmap="tab20", s=3, alpha=0.7, linewidths=0)
        ax.set_title(f"{name}: PCA, colour = level-1 code")
        ax.set_xticks([])
        ax.set_yticks([])
    return _png(fig)


def loss_curves(histories: dict[str, list[dict[str, float]]]) -> bytes:
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for name, hist in histories.items():
        epochs = [h["epoch"] for h in hist]
        for key in sorted({k for h in hist for k in h if k != "epoch"}):
            ax.plot(epochs, [h[key] for h in hist], marker="o", label=f"{name} {key}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    return _png(fig)


def running_mean(v: np.ndarray, window: int) -> np.ndarray:
    """Centred mean over ``window`` steps, of the steps that exist: near the ends the window is shorter,
    not padded with zeros (which drew a false dip at the first and last steps). NaN steps are skipped."""
    if len(v) == 0:
        return v
    ok = np.isfinite(v)
    kernel = np.ones(max(1, min(window, len(v))))  # np.convolve "same" returns the longer input's length
    total = np.convolve(np.where(ok, v, 0.0), kernel, mode="same")
    count = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def training_curves(logs: dict[str, list[dict[str, float]]], smooth: int = 25) -> bytes:
    """Per-step training log: every loss term (left) and the colliding pairs seen in each batch (right).

    Curves are running means over ``smooth`` steps; single batches are noisy.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    for name, log in logs.items():
        steps = np.array([e["step"] for e in log])
        terms = sorted({k for e in log for k in e if k not in ("step",) and not k.startswith("n_")})
        for key in terms:
            v = np.array([e.get(key, np.nan) for e in log], dtype=float)
            v = running_mean(v, smooth)
            axes[0].plot(steps, v, label=f"{name} {key}" if len(logs) > 1 else key)
        v = np.array([e.get("n_batch_collision_pairs", np.nan) for e in log], dtype=float)
        v = running_mean(v, smooth)
        axes[1].plot(steps, np.maximum(v, 0.5), label=name)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step")
    axes[0].set_title("loss terms")
    axes[0].legend(fontsize=7)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("step")
    axes[1].set_title("distinct-item pairs with the same full SID, per batch")
    axes[1].legend(fontsize=7)
    return _png(fig)
