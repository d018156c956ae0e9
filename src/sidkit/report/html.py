"""One self-contained HTML page comparing methods: quality table, plots, example buckets with titles."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np

from sidkit.atomic import write_bytes
from sidkit.report import plots

ROWS = [
    ("collision_rate", "collision rate", "{:.2%}"),
    ("max_bucket", "largest bucket", "{}"),
    ("n_unique_sids", "unique SIDs", "{}"),
    ("sid_entropy", "SID entropy (nats)", "{:.3f}"),
    ("perplexity_min", "min perplexity", "{:.1f}"),
    ("perplexity_mean", "mean perplexity", "{:.1f}"),
]


def quality_rows(qualities: dict[str, dict]) -> list[tuple[str, list[str]]]:
    """Rows of the comparison table, shared by the console and the HTML page."""
    rows = [(label, [fmt.format(q[key]) for q in qualities.values()]) for key, label, fmt in ROWS]
    levels = max(q["levels"] for q in qualities.values())
    for lvl in range(levels):
        rows.append((f"utilisation L{lvl + 1}", [f"{q['utilization'][lvl]:.1%}" for q in qualities.values()]))
    for lvl in range(levels):
        rows.append((f"top-1 load L{lvl + 1}", [f"{q['top1_load'][lvl]:.2%}" for q in qualities.values()]))
    for lvl in range(levels):
        rows.append((f"collab prefix agreement @{lvl + 1}",
                     ["n/a" if q["collab_prefix_agreement"][lvl] is None else f"{q['collab_prefix_agreement'][lvl]:.2%}"
                      for q in qualities.values()]))
    return rows


def format_table(qualities: dict[str, dict]) -> str:
    rows = quality_rows(qualities)
    width = max(len(r[0]) for r in rows) + 2
    col = max(12, *(len(m) + 2 for m in qualities))
    lines = ["".ljust(width) + "".join(m.rjust(col) for m in qualities)]
    lines += [label.ljust(width) + "".join(v.rjust(col) for v in values) for label, values in rows]
    return "\n".join(lines)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def example_buckets(codes: np.ndarray, titles: list[str], n_buckets: int = 3, per_bucket: int = 6,
                    seed: int = 0) -> list[tuple[str, list[str]]]:
    """A few level-1 buckets (seeded pick among those with ≥ 3 items) and the largest full-SID collision."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(codes[:, 0])
    candidates = np.flatnonzero(counts >= 3)
    out = []
    for c in rng.choice(candidates, size=min(n_buckets, len(candidates)), replace=False):
        items = np.flatnonzero(codes[:, 0] == c)[:per_bucket]
        out.append((f"level-1 code {c} ({counts[c]} items)", [titles[i] for i in items]))
    uniq, inverse, tuple_counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    if tuple_counts.max() > 1:
        g = int(np.argmax(tuple_counts))
        items = np.flatnonzero(inverse.ravel() == g)[:per_bucket]
        label = "-".join(map(str, uniq[g]))
        out.append((f"largest collision: SID {label} ({tuple_counts[g]} items)", [titles[i] for i in items]))
    return out


def write_report(path: str | Path, title: str, qualities: dict[str, dict], codes: dict[str, np.ndarray],
                 spaces: dict[str, np.ndarray], titles: list[str], histories: dict[str, list] | None = None,
                 notes: list[str] | None = None, training_logs: dict[str, list] | None = None) -> Path:
    sizes = {m: q["codebook_sizes"] for m, q in qualities.items()}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1400px;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "td:first-child{text-align:left}img{max-width:100%}li{font-size:90%}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for note in notes or []:
        parts.append(f"<p>{html.escape(note)}</p>")
    parts.append("<h2>Quality</h2><table><tr><th></th>" + "".join(f"<th>{html.escape(m)}</th>" for m in qualities) + "</tr>")
    for label, values in quality_rows(qualities):
        parts.append(f"<tr><td>{html.escape(label)}</td>" + "".join(f"<td>{v}</td>" for v in values) + "</tr>")
    parts.append("</table>")
    parts.append("<h2>Code usage per level</h2>" + _img(plots.code_usage(codes, sizes), "code usage"))
    parts.append("<h2>Bucket sizes</h2>" + _img(plots.bucket_sizes(codes), "bucket sizes"))
    parts.append("<h2>Item space</h2>" + _img(plots.projection(spaces, {m: c[:, 0] for m, c in codes.items()}), "projection"))
    if histories:
        parts.append("<h2>Alignment training</h2>" + _img(plots.loss_curves(histories), "loss curves"))
    if training_logs:
        parts.append("<h2>Tokenizer training</h2>" + _img(plots.training_curves(training_logs), "training curves"))
    parts.append("<h2>Example buckets</h2>")
    for method, c in codes.items():
        parts.append(f"<h3>{html.escape(method)}</h3>")
        for label, items in example_buckets(c, titles):
            parts.append(f"<p><b>{html.escape(label)}</b></p><ul>" +
                         "".join(f"<li>{html.escape(t[:140])}</li>" for t in items) + "</ul>")
    parts.append("</body></html>")
    return write_bytes(path, "\n".join(parts).encode("utf-8"))
