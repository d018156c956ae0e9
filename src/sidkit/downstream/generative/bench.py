"""The tokenizer benchmark on generative retrieval: for each method and seed, fit the tokenizer, train
TIGER on its SIDs, and put the retrieval figures beside the SID quality figures; most-popular and
SASRec per seed in the same harness.

Resumable: every finished unit (a baseline seed, or a method and seed) is one line of
``OUT/results.jsonl`` and a fitted SID folder ``OUT/sids/METHOD-seedS``; a rerun skips finished
units and reuses fitted folders, so a killed run loses at most the unit it was in. Two processes may
share ``OUT`` with disjoint methods (one without SASRec): each appends whole lines, and a rerun over
all methods once both are done only writes the table. Methods that do not exist are reported as
missing, not dropped. Units run seed by seed, so a run cut short has every method at its first seeds.

A row is a method or a variant of one: ``specs`` maps a row's label (``rq-kmeans:balance=true``) to the
method and its constructor values, so balanced k-means or LETTER's published α sit beside the defaults.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from sidkit.atomic import write_file, write_json
from sidkit.content.text_encoder import TextEncoder
from sidkit.data.types import Dataset
from sidkit.downstream.generative.run import KS, check_config, evaluate_generative, sasrec_baseline, sasrec_recipe
from sidkit.downstream.generative.tiger import CONFIGS
from sidkit.errors import SidkitError
from sidkit.evaluate.paired_bootstrap import paired_bootstrap
from sidkit.evaluate.retrieval import per_user_scores
from sidkit.params import params_of
from sidkit.sids.table import SemanticIDs

METRICS = [f"{m}@{k}" for m in ("recall", "ndcg") for k in KS]
RESULTS, SIDS, TABLE_MD, TABLE_JSON = "results.jsonl", "sids", "generative.md", "generative.json"  # OUT's layout
QUALITY = ("collision_rate", "perplexity_mean", "sid_entropy")


def check_out(out: Path) -> None:
    """``out`` must be new or hold only what a bench writes (a second process may have made sids/ first)."""
    if out.exists() and any(p.name not in (RESULTS, SIDS, TABLE_MD, TABLE_JSON) for p in out.iterdir()):
        raise SidkitError(f"{out}: holds files that no bench wrote; expected a new folder or an earlier bench to resume")


def _done(results: Path) -> dict[tuple[str, int], dict]:
    if not results.is_file():
        return {}
    out = {}
    for line in results.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            out[(rec["method"], rec["seed"])] = rec
    return out


def _append(results: Path, rec: dict) -> None:
    with results.open("a", encoding="utf-8") as f:  # one line per finished unit: a kill loses only the current one
        f.write(json.dumps(rec) + "\n")
        f.flush()


def bench_generative(ds: Dataset, encoder: TextEncoder | None, methods: list[str], seeds: list[int], out: str | Path,
                     *, config: str = "small", fit_params: dict | None = None, tiger: dict | None = None,
                     sasrec: dict | None = None, with_sasrec: bool = True, progress: bool = True,
                     specs: dict[str, tuple[str, dict]] | None = None) -> dict:
    from sidkit.methods import METHODS
    from sidkit.workflow import fit_to_dir, prepare

    check_config(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / RESULTS
    done = _done(results)
    check_recipe(results, done, config, tiger, (sasrec or {}) if with_sasrec else None)
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if progress else (lambda m: None)
    units = [(m, s) for s in seeds for m in (["sasrec"] if with_sasrec else []) + methods]
    todo = [u for u in units if u not in done]
    say(f"bench generative on {ds.name}: {len(units)} units, {len(units) - len(todo)} already done")
    specs = {m: (specs or {}).get(m, (m, {})) for m in methods}
    prep = None
    t0, finished = time.perf_counter(), 0
    for n, (method, seed) in enumerate(todo, start=1):
        t = time.perf_counter()
        say(f"[{n}/{len(todo)}] {method} seed {seed}")
        if method == "sasrec":
            rec = {"method": "sasrec", "seed": seed, **sasrec_baseline(ds, seed=seed, progress=progress, **(sasrec or {}))}
        elif specs[method][0] not in METHODS:
            rec = {"method": method, "seed": seed, "missing": f"no method {specs[method][0]!r} in this sidkit"}
        else:
            name, own = specs[method]
            folder = out / SIDS / f"{sid_folder(method)}-seed{seed}"
            if not (folder / "sids.parquet").is_file():
                if prep is None:
                    prep = prepare(ds, encoder, seed=0, need_users=any(
                        METHODS[n].needs_users for n, _ in specs.values() if n in METHODS))
                params = {k: v for k, v in (fit_params or {}).items() if k in params_of(METHODS[name])}
                fit_to_dir(prep, name, folder, seed=seed, fit_options={"progress": False}, **{**params, **own})
            table = SemanticIDs.read(folder)
            quality = json.loads((folder / "quality.json").read_text(encoding="utf-8"))
            rec = {"method": method, "seed": seed, "quality": {k: quality[k] for k in QUALITY},
                   **evaluate_generative(ds, table, config=config, seed=seed, where=str(folder), progress=progress,
                                         **(tiger or {}))}
        _append(results, rec)
        finished += 1
        elapsed = time.perf_counter() - t0
        say(f"[{n}/{len(todo)}] {method} seed {seed}: " +
            (rec["missing"] if "missing" in rec else ", ".join(f"{m} {rec[m]:.4f}" for m in METRICS)) +
            f" ({time.perf_counter() - t:.0f}s; about {elapsed / finished * (len(todo) - n):.0f}s left)")
        write_table(out, methods, seeds)  # after every unit: a run cut short still has a table of what finished
    return write_table(out, methods, seeds)


def check_recipe(results: Path, done: dict[tuple[str, int], dict], config: str, tiger: dict | None,
                 sasrec: dict | None = None) -> None:
    """Every unit already in ``results`` was trained as this run would train it: the table pairs TIGER
    units across rows and averages each row over seeds, so a resume with another ``--tiger-patience``
    or ``--sasrec-epochs`` would put two recipes in one comparison without a word. ``sasrec`` None: this
    run trains no SASRec (``--no-sasrec``), so SASRec units are not its to judge."""
    want = {"TIGER": {"config": config, **asdict(replace(CONFIGS[config], **(tiger or {})))}}
    if sasrec is not None:
        want["SASRec"] = sasrec_recipe(sasrec)
    for (method, seed), rec in done.items():
        if "params" not in rec:
            continue
        if method == "sasrec":
            # an early unit recorded only its overrides; read against today's defaults
            model, had = "SASRec", sasrec_recipe(rec["params"])
        elif "config" in rec:
            model, had = "TIGER", {"config": rec["config"], **rec["params"]}
        else:
            continue
        if model not in want:
            continue
        diff = next((k for k in want[model] if had.get(k) != want[model][k]), None)
        if diff is not None:
            flags = "--config and --tiger-*" if model == "TIGER" else "--sasrec-*"
            raise SidkitError(f"{results}: {method} seed {seed} was trained with {model} {diff}={had.get(diff)!r}, this "
                              f"run asks {diff}={want[model][diff]!r}; expected one recipe per --out (the same {flags} "
                              "flags, or a new --out)")


def sid_folder(label: str) -> str:
    """A row label as a folder name: ``rq-kmeans:balance=true`` → ``rq-kmeans_balance_true``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label)


def write_table(out: Path, methods: list[str], seeds: list[int]) -> dict:
    """``generative.md`` / ``.json`` from the units ``results.jsonl`` holds (``--table-only``: while
    other processes still run units, or after a run cut short)."""
    done = _done(out / RESULTS)
    summary = summarise(done, ["popularity", "sasrec", *methods], seeds)
    paired_calls(summary, done, methods, seeds)
    write_json(out / TABLE_JSON, summary)
    write_file(out / TABLE_MD, lambda p: p.write_text(generative_table(summary) + "\n", encoding="utf-8"))
    return summary


def _mean_std(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "n": len(a)}


def summarise(done: dict[tuple[str, int], dict], rows: list[str], seeds: list[int]) -> dict:
    """{row: {metric: {mean, std, n}, quality: {...}}} over the seeds; most-popular comes from each TIGER/SASRec run's split."""
    out: dict = {}
    for row in rows:
        if row == "popularity":  # the split is the same for every method: one TIGER run per seed carries it
            per_seed = {s: r["popularity"] for (m, s), r in done.items() if s in seeds and "popularity" in r}
            recs = list(per_seed.values())
        else:
            recs = [done[(row, s)] for s in seeds if (row, s) in done]
        if any("missing" in r for r in recs):
            out[row] = {"missing": next(r["missing"] for r in recs if "missing" in r)}
            continue
        if not recs:
            out[row] = {"missing": "not run"}
            continue
        out[row] = {m: _mean_std([r[m] for r in recs]) for m in METRICS}
        if recs and "quality" in recs[0]:
            out[row]["quality"] = {q: _mean_std([r["quality"][q] for r in recs]) for q in QUALITY}
        if "users_per_second" in recs[0]:
            out[row]["users_per_second"] = _mean_std([r["users_per_second"] for r in recs])
        if all("collision_miss@10" in r for r in recs):
            out[row]["collision_miss@10"] = _mean_std([r["collision_miss@10"] for r in recs])
            out[row]["best_epoch"] = [r["best_epoch"] for r in recs]
    return out


def user_scores(done: dict[tuple[str, int], dict], row: str, seeds: list[int], metric: str) -> np.ndarray | None:
    """Per test user, ``metric`` averaged over ``seeds`` (None unless each of them recorded its ranks):
    the split is the same for every seed and tokenizer, so user u is the same person in every unit."""
    recs = [done.get((row, s)) for s in seeds]
    if not recs or any(r is None or "test_ranks" not in r for r in recs):
        return None
    k = int(metric.split("@")[1])
    return np.mean([per_user_scores(np.asarray(r["test_ranks"]), k)[metric] for r in recs], axis=0)


def ranked_seeds(done: dict[tuple[str, int], dict], row: str, seeds: list[int]) -> list[int]:
    """The seeds of ``seeds`` at which ``row`` recorded per-user ranks."""
    return [s for s in seeds if "test_ranks" in done.get((row, s), {})]


BASELINES = ("rqvae", "rq-kmeans", "letter")  # what the papers compare against (and their variants)
COMPARISONS = ("vs rqvae", "vs best baseline", "vs best")


def paired_calls(summary: dict, done: dict[tuple[str, int], dict], tokenizers: list[str], seeds: list[int],
                 reference: str = "rqvae", metrics: tuple[str, ...] = ("ndcg@10", "recall@10")) -> None:
    """Adds ``paired`` to each tokenizer row: against ``reference`` (the RQ-VAE that QuaSID and AdaSID
    modify), against the best baseline row (a method of ``BASELINES`` or a variant of one: the papers'
    "over the best baseline") and against the best row, on mean NDCG@10. Each comparison is over the
    seeds both rows share: the per-seed differences of the test figures, and the mean per-user gap (each
    user's figure averaged over those seeds) with its paired-bootstrap 95% interval and win / tie / loss
    (evaluate/paired_bootstrap.py). A best row is the best among those measured at the most seeds, so a
    row run at one lucky seed does not become everyone's reference."""
    have = {row: ranked_seeds(done, row, seeds) for row in tokenizers}
    measured = [r for r in tokenizers if have[r]]
    if not measured:
        return

    def best_of(rows: list[str]) -> str | None:
        if not rows:
            return None
        most = max(len(have[r]) for r in rows)
        return max((r for r in rows if len(have[r]) == most),
                   key=lambda r: user_scores(done, r, have[r], metrics[0]).mean())

    base = best_of([r for r in measured if r.partition(":")[0] in BASELINES])
    for row in measured:
        paired = {}
        for name, other in zip(COMPARISONS, (reference, base, best_of(measured))):
            shared = [s for s in have[row] if s in have.get(other, [])]
            if other == row or not shared:
                continue
            paired[name] = {"row": other, "seeds": shared}
            for m in metrics:
                paired[name][m] = paired_bootstrap(user_scores(done, row, shared, m),
                                                   user_scores(done, other, shared, m)).as_dict()
                paired[name][m]["per_seed"] = [done[(row, s)][m] - done[(other, s)][m] for s in shared]
        summary[row]["paired"] = paired


def generative_table(summary: dict) -> str:
    """Markdown table. The calls against rqvae, the best baseline and the best row come from the paired
    bootstrap over test users (``paired_calls``); the per-seed differences follow each interval."""
    head = "| model | " + " | ".join(m.replace("recall", "R").replace("ndcg", "N") for m in METRICS)
    head += (" | collision rate | perplexity (mean) | decode users/s | seeds"
             + "".join(f" | ΔN@10 {name}, 95% CI; per seed" for name in COMPARISONS)
             + " | collision miss@10 | best epoch |\n|" + "---|" * (len(METRICS) + 7 + len(COMPARISONS)))
    lines = [head]
    for row, r in summary.items():
        if "missing" in r:
            lines.append(f"| {row} | " + " | ".join(["missing"] * (len(METRICS) + 3)) + " | 0 |"
                         + " |" * (len(COMPARISONS) + 2) + f"  <!-- {r['missing']} -->")
            continue
        cells = [f"{r[m]['mean']:.4f} ± {r[m]['std']:.4f}" for m in METRICS]
        q = r.get("quality")
        cells += [f"{q['collision_rate']['mean']:.2%}", f"{q['perplexity_mean']['mean']:.0f}"] if q else ["", ""]
        cells.append(f"{r['users_per_second']['mean']:.0f}" if "users_per_second" in r else "")
        cells.append(str(r[METRICS[0]]["n"]))
        for name in COMPARISONS:
            paired = r.get("paired", {}).get(name)
            gap = paired["ndcg@10"] if paired else None
            cells.append(f"{gap['mean']:+.4f} [{gap['low']:+.4f}, {gap['high']:+.4f}] {gap['verdict']}"
                         f" vs {paired['row']}; " + " / ".join(f"{d:+.4f}" for d in gap["per_seed"]) if gap else "")
        miss = r.get("collision_miss@10")
        cells.append(f"{miss['mean']:.2%}" if miss else "")
        cells.append(", ".join(str(e) for e in r.get("best_epoch", [])))
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
