"""The ranking result as a Markdown table (QARM Table 1's shape), and as JSON without NaN."""

from __future__ import annotations

import math


def json_safe(obj):
    """NaN (no AUC: one class only) becomes null, which JSON can hold."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_safe(v) for v in obj]
    return obj


def _cell(m: dict, key: str) -> str:
    v, s = m.get(key), m.get(f"{key}_std")
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.4f} ± {s:.4f}" if s is not None and not math.isnan(s) else f"{v:.4f}"


def ranking_table(result: dict) -> str:
    """Rows: variants; columns: AUC / UAUC / GAUC per task, then ctr AUC on cold-start items."""
    first = next((r for r in result.values() if "missing" not in r), None)
    if first is None:
        return "\n".join(f"{v}: missing ({r['missing']})" for v, r in result.items())
    tasks = [k for k in first if k not in ("groups", "cold_start", "per_seed")]
    head = ["variant"] + [f"{t} {m}" for t in tasks for m in ("AUC", "UAUC", "GAUC")] + ["cold-start ctr AUC"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for variant, r in result.items():
        if "missing" in r:
            lines.append(f"| {variant} | missing: {r['missing']} |")
            continue
        cells = [_cell(r[t], m) for t in tasks for m in ("auc", "uauc", "gauc")]
        lines.append("| " + " | ".join([variant, *cells, _cell(r["cold_start"]["ctr"], "auc")]) + " |")
    return "\n".join(lines)
