"""``sidkit`` command line: a thin shell over sidkit.workflow. Errors in input are one line, exit 2."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sidkit import __version__
from sidkit.errors import SidkitError

DEMO_OUT = "sidkit-demo"


def _data_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_argument_group("data (a named data set, or a pair of files)")
    g.add_argument("--dataset", help="scientific (embedded), beauty, ml-100k")
    g.add_argument("--data-dir", help="folder with the named data set's files (beauty, ml-100k)")
    g.add_argument("--items", help="items file: Parquet/CSV/JSONL with item_id + text and/or embedding columns")
    g.add_argument("--interactions", help="interactions file: user_id,item_id[,timestamp][,rating|label]")
    g.add_argument("--template", help="text template over item fields, e.g. '{title}[. Brand: {brand}]'")


def _encoder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", help="embedding cache (default $SIDKIT_CACHE or ~/.cache/sidkit)")
    p.add_argument("--text-model", default="all-MiniLM-L6-v2", help="sentence-transformers model (bundled default)")
    p.add_argument("--batch-size", type=int, default=64, help="encoding batch size")


def _load(args: argparse.Namespace):
    from sidkit.data import load_dataset

    if args.dataset is None and args.items is None and args.interactions is None:
        raise SidkitError("give --dataset NAME, or both --items FILE and --interactions FILE")
    return load_dataset(args.dataset, args.data_dir, items=args.items, interactions=args.interactions,
                        template=args.template)


def _encoder(args: argparse.Namespace):
    from sidkit.content import TextEncoder

    return TextEncoder(args.text_model, cache_dir=args.cache_dir, batch_size=args.batch_size)


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value}: expected a positive integer")
    return n


def cmd_fit(args: argparse.Namespace) -> int:
    from sidkit.atomic import check_output_dir
    from sidkit.methods import METHODS
    from sidkit.workflow import fit_to_dir, prepare

    check_output_dir(args.out)  # refuse before an expensive run, not after
    if args.method not in METHODS:
        raise SidkitError(f"unknown method {args.method!r}; expected one of {', '.join(METHODS)}")
    ds = _load(args)
    if args.codebook_size > len(ds.catalog):
        raise SidkitError(f"--codebook-size {args.codebook_size} is larger than the {len(ds.catalog)} items; "
                          f"expected at most {len(ds.catalog)}")
    prep = prepare(ds, _encoder(args), need_pairs=METHODS[args.method].needs_pairs,
                   pair_sources=tuple(args.pairs.split(",")), seed=args.seed)
    extra = {"source": {k: str(Path(v).resolve()) if v and k != "dataset" else v
                        for k, v in (("dataset", args.dataset), ("data_dir", args.data_dir),
                                     ("items", args.items), ("interactions", args.interactions))}}
    result = fit_to_dir(prep, args.method, args.out, levels=args.levels, codebook_size=args.codebook_size,
                        seed=args.seed, extra=extra)
    print(json.dumps(result.quality, indent=2))
    print(f"wrote {args.out}/sids.parquet ({len(result.sids)} items, {result.seconds:.1f}s to fit)", file=sys.stderr)
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    import numpy as np

    from sidkit.data import last_transitions, load_dataset
    from sidkit.sids import SemanticIDs, collab_prefix_agreement, sid_quality

    table = SemanticIDs.read(args.sids)
    quality = sid_quality(table.codes, table.codebook_sizes)
    src = table.manifest.get("source", {})
    dataset = args.dataset or src.get("dataset")
    items = args.items or src.get("items")
    inter = args.interactions or src.get("interactions")
    if dataset or (items and inter):
        ds = load_dataset(dataset, args.data_dir or src.get("data_dir"),
                          items=None if dataset else items, interactions=None if dataset else inter)
        prev, last = last_transitions(ds.interactions)
        row = {item: k for k, item in enumerate(table.item_ids)}
        to_row = np.array([row.get(i, -1) for i in ds.catalog.item_ids])
        keep = (to_row[prev] >= 0) & (to_row[last] >= 0)
        quality["collab_prefix_agreement"] = collab_prefix_agreement(table.codes, to_row[prev][keep], to_row[last][keep])
    print(json.dumps(quality, indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from sidkit.atomic import output_dir, write_json
    from sidkit.data import load_dataset
    from sidkit.report.html import format_table, write_report
    from sidkit.workflow import fit_method, prepare, write_result

    methods = ["rq-kmeans", "qarm"]
    t0 = time.perf_counter()
    with output_dir(args.out) as tmp:
        ds = load_dataset("scientific", args.data_dir, template=args.template)
        print(f"[1/4] scientific: {len(ds.catalog)} items, {ds.interactions.n_users} users, "
              f"{len(ds.interactions)} interactions", file=sys.stderr)
        print("[2/4] encoding item texts with all-MiniLM-L6-v2 (cached after the first run)", file=sys.stderr)
        prep = prepare(ds, _encoder(args), seed=args.seed)
        print(f"[3/4] mined {len(prep.pairs)} item pairs from training interactions {prep.pairs.counts()}",
              file=sys.stderr)
        results = {}
        for m in methods:
            print(f"[4/4] fitting {m} ({args.levels} x {args.codebook_size})", file=sys.stderr)
            results[m] = fit_method(prep, m, levels=args.levels, codebook_size=args.codebook_size, seed=args.seed)
            write_result(results[m], tmp / m, prep, args.seed, {"source": {"dataset": "scientific"}})
        qualities = {m: r.quality for m, r in results.items()}
        titles = ds.catalog.text["title"]
        spaces = {"rq-kmeans": prep.embeddings, "qarm": results["qarm"].tokenizer.aligned_}
        write_report(tmp / "report.html", "sidkit demo: rq-kmeans vs QARM on Industrial & Scientific", qualities,
                     {m: r.sids.codes for m, r in results.items()}, spaces, titles,
                     {"qarm alignment": results["qarm"].tokenizer.history_},
                     [f"{len(ds.catalog)} items; {args.levels} levels x {args.codebook_size} codes; seed {args.seed}. "
                      "Collab prefix agreement: share of each user's held-out last transition whose two items "
                      "share the first l codes."])
        write_json(tmp / "manifest.json", {"method": "demo", "methods": methods, "dataset": "scientific",
                                           "seed": args.seed, "version": __version__})
        write_json(tmp / "quality.json", qualities)
    print(format_table(qualities))
    print(f"\nwrote {args.out}/report.html and {args.out}/{{{','.join(methods)}}}/sids.parquet "
          f"in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sidkit", description="Semantic IDs for recommendation.")
    p.add_argument("--version", action="version", version=f"sidkit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="embed, mine pairs, fit rq-kmeans and QARM on the embedded data, report")
    demo.add_argument("--out", default=DEMO_OUT, help=f"output folder (default {DEMO_OUT})")
    demo.add_argument("--data-dir", help="read scientific from this folder instead of the embedded copy")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--levels", type=_positive, default=3)
    demo.add_argument("--codebook-size", type=_positive, default=256)
    demo.add_argument("--template", help="text template (default: title, brand, categories, description)")
    _encoder_args(demo)
    demo.set_defaults(func=cmd_demo)

    fit = sub.add_parser("fit", help="fit a tokenizer and write sids.parquet, manifest.json, quality.json")
    fit.add_argument("method", help="rq-kmeans or qarm")
    _data_args(fit)
    fit.add_argument("--out", required=True, help="output folder (new, or a previous sidkit output)")
    fit.add_argument("--levels", type=_positive, default=3)
    fit.add_argument("--codebook-size", type=_positive, default=256)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--pairs", default="u2i,swing", help="pair miners for alignment: u2i,swing,cooccurrence")
    _encoder_args(fit)
    fit.set_defaults(func=cmd_fit)

    q = sub.add_parser("quality", help="print the quality figures of a sids.parquet")
    q.add_argument("sids", help="path to sids.parquet (or its folder)")
    _data_args(q)
    q.set_defaults(func=cmd_quality)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SidkitError as e:
        print(f"sidkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sidkit: interrupted; no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
