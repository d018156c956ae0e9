"""``sidkit`` command line: a thin shell over sidkit.workflow. Errors in input are one line, exit 2."""

from __future__ import annotations

import argparse
import inspect
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
    p.add_argument("--encode-batch-size", type=int, default=64, help="text encoding batch size")


def _load(args: argparse.Namespace):
    from sidkit.data import load_dataset

    if args.dataset is None and args.items is None and args.interactions is None:
        raise SidkitError("give --dataset NAME, or --items FILE (and --interactions FILE where clicks are used)")
    return load_dataset(args.dataset, args.data_dir, items=args.items, interactions=args.interactions,
                        template=args.template, sample=getattr(args, "sample", None), seed=getattr(args, "seed", 0))


def _sid_folder(sids: str) -> Path:
    """The folder of a SID table given as the folder or as its sids.parquet."""
    return Path(sids) if Path(sids).is_dir() else Path(sids).parent


def _say_template(args: argparse.Namespace, ds) -> None:
    """Without --template the data set's own is used; say which, so nobody has to open manifest.json."""
    if args.template is None and ds.text_template and ds.catalog.text:
        print(f"text template: {ds.text_template!r} (the default for {ds.name}; change it with --template)",
              file=sys.stderr, flush=True)


def _encoder(args: argparse.Namespace):
    from sidkit.content import TextEncoder

    return TextEncoder(args.text_model, cache_dir=args.cache_dir, batch_size=args.encode_batch_size)


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value}: expected a positive integer")
    return n


def method_params(args: argparse.Namespace, cls) -> dict:
    """Constructor parameters from the method's generated flags and --param, checked (cli_flags.py)."""
    from sidkit.cli_flags import params_from_args

    return params_from_args(args, cls, cls.method)


def _code_params(args: argparse.Namespace) -> dict:
    """Constructor parameters of eval ranking's ``--codes`` method from --no-view NAME (repeatable),
    --no-debias and --steps, checked against that method."""
    from sidkit.cli_flags import methods_with
    from sidkit.methods import method_class
    from sidkit.params import params_of

    cls = method_class(args.codes)
    known = params_of(cls)
    params: dict = {}
    for flag, name, value in (("--no-view", "views", args.no_view), ("--no-debias", "debias", args.no_debias),
                              ("--steps", "steps", args.steps)):
        if not value:
            continue
        if name not in known:
            raise SidkitError(f"{flag}: {args.codes} has no parameter {name!r}; expected --codes "
                              f"{' or --codes '.join(methods_with(name))}")
        if name == "views":
            views = known["views"].default
            unknown = [v for v in value if v not in views]
            if unknown:
                raise SidkitError(f"--no-view {unknown[0]}: not a {args.codes} view; expected one of {', '.join(views)}")
            value = [v for v in views if v not in args.no_view]
        params[name] = False if name == "debias" else value
    cls(**params).check_params()
    return params


def _distributed() -> int:
    """Join the process group when started by torchrun; returns this process's rank."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.get_rank()


def cmd_fit(args: argparse.Namespace) -> int:
    from sidkit.atomic import check_output_dir
    from sidkit.methods import method_class
    from sidkit.sids.collisions import check_mode
    from sidkit.workflow import fit_method, fit_to_dir, prepare

    check_output_dir(args.out)  # refuse before an expensive run, not after
    check_mode(args.collisions, args.collision_k, args.capacity)
    cls = method_class(args.method)
    params = method_params(args, cls)
    tok = cls(**params)
    if hasattr(tok, "build_objectives"):
        tok.build_objectives()  # unknown objective names fail now, not after embedding and mining
    tok.check_params()
    levels, codebook_size, seed = tok.levels, tok.codebook_size, tok.seed
    if args.dataset is None and args.interactions is None and (tok.needs_pairs or tok.needs_interactions):
        raise SidkitError(f"{args.method} learns from clicks; expected --interactions FILE with --items "
                          "(rq-kmeans and the RQ-VAE family without collaborative terms need none)")
    cf_input = _cf_input(args, seed)
    if cf_input is not None and args.dataset is None and args.interactions is None:
        raise SidkitError(f"--cf-input {args.cf_input} learns item factors from clicks; expected --interactions FILE")
    finetune = _finetune_params(args)
    if finetune is not None and args.dataset is None and args.interactions is None:
        raise SidkitError("--finetune-encoder trains on item pairs mined from clicks; expected --interactions FILE")
    ds = _load(args)
    if codebook_size > len(ds.catalog):
        raise SidkitError(f"--codebook-size {codebook_size} is larger than the {len(ds.catalog)} items; "
                          f"expected at most {len(ds.catalog)}")
    rank = _distributed()
    needs_users = cls.needs_users
    if needs_users and codebook_size > ds.interactions.n_users and not params.get("user_codebook_size"):
        raise SidkitError(f"--codebook-size {codebook_size} is larger than the {ds.interactions.n_users} users "
                          "the user codebook quantizes; expected a smaller size, or --param user_codebook_size=K")
    user_k = params.get("user_codebook_size")
    if needs_users and user_k and user_k > ds.interactions.n_users:
        raise SidkitError(f"{args.method} user codebook size {user_k} is larger than the {ds.interactions.n_users} "
                          f"rows to quantize; expected at most {ds.interactions.n_users}")
    fit_options = {"checkpoint_dir": getattr(args, "checkpoint_dir", None), "resume": getattr(args, "resume", False),
                   "progress": rank == 0}  # workflow.fit_tokenizer passes on those this method's fit takes
    if fit_options["resume"] and not fit_options["checkpoint_dir"]:
        raise SidkitError("--resume needs --checkpoint-dir DIR (the folder the interrupted run wrote to)")
    if needs_users:  # a missing profile is known now, not after embedding
        from sidkit.content.user_embeddings import resolve_source

        resolve_source(getattr(tok, "user_content", "auto"), ds)
    _say_template(args, ds)
    prep = prepare(ds, _encoder(args), need_pairs=tok.needs_pairs, pair_sources=tuple(args.pairs.split(",")),
                   seed=seed, need_users=needs_users, user_content=getattr(tok, "user_content", "auto"),
                   half_life=getattr(tok, "half_life", 10.0), cache_pairs=not args.no_pair_cache,
                   strict=args.strict, progress=rank == 0, cf_input=cf_input, finetune=finetune)
    if rank == 0:
        print(f"[fit] {args.method}: {levels} levels x {codebook_size} codes", file=sys.stderr, flush=True)
    extra = {"source": {k: str(Path(v).resolve()) if v and k != "dataset" else v
                        for k, v in (("dataset", args.dataset), ("data_dir", args.data_dir),
                                     ("items", args.items), ("interactions", args.interactions))}}
    if args.sample:
        extra["source"]["sample"] = {"items": len(ds.catalog), "seed": seed}
    collisions = {"mode": args.collisions, "k": args.collision_k, "capacity": args.capacity}
    common = dict(fit_options=fit_options, collisions=collisions,
                  **{**params, "levels": levels, "codebook_size": codebook_size, "seed": seed})
    if rank != 0:  # other processes of a torchrun job train with rank 0, which alone writes
        fit_method(prep, args.method, **common)
        return 0
    result = fit_to_dir(prep, args.method, args.out, extra=extra, **common)
    print(json.dumps(result.quality, indent=2))
    if result.users is not None:
        print(json.dumps({"users": result.user_quality}, indent=2))
        print(f"wrote {args.out}/user_sids.parquet ({len(result.users)} users)", file=sys.stderr)
    print(f"wrote {args.out}/sids.parquet ({len(result.sids)} items, {result.seconds:.1f}s to fit)", file=sys.stderr)
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    import numpy as np

    from sidkit.data import last_transitions, load_dataset
    from sidkit.sids import SemanticIDs, collab_prefix_agreement, sid_quality

    if args.engine == "ray":
        from sidkit.scale.sharded_quality import sharded_quality

        print(json.dumps(sharded_quality(_sid_folder(args.sids), address=args.address, num_cpus=args.num_cpus),
                         indent=2))
        return 0
    if (_sid_folder(args.sids) / "manifest.json").is_file() and not (_sid_folder(args.sids) / "sids.parquet").exists():
        from sidkit.sids.shards import read_sid_shards

        table = read_sid_shards(_sid_folder(args.sids))
        print(json.dumps(sid_quality(table.codes, table.codebook_sizes), indent=2))
        return 0
    table = SemanticIDs.read(args.sids)
    quality = sid_quality(table.codes, table.codebook_sizes)
    src = table.manifest.get("source", {})
    dataset = args.dataset or src.get("dataset")
    items = args.items or src.get("items")
    inter = args.interactions or src.get("interactions")
    if table.id_column == "item_id" and (dataset or (items and inter)):  # item transitions say nothing of user SIDs
        ds = load_dataset(dataset, args.data_dir or src.get("data_dir"),
                          items=None if dataset else items, interactions=None if dataset else inter)
        prev, last = last_transitions(ds.interactions)
        row = {item: k for k, item in enumerate(table.item_ids)}
        to_row = np.array([row.get(i, -1) for i in ds.catalog.item_ids])
        keep = (to_row[prev] >= 0) & (to_row[last] >= 0)
        quality["collab_prefix_agreement"] = collab_prefix_agreement(table.codes, to_row[prev][keep], to_row[last][keep])
        from sidkit.data.splits import leave_one_out
        from sidkit.sids.quality import quality_by_clicks

        clicked = np.zeros(len(table), dtype=bool)  # items added by assign since the fit count as without clicks
        trained = np.unique(to_row[leave_one_out(ds.interactions).train.items])
        clicked[trained[trained >= 0]] = True
        quality["by_clicks"] = quality_by_clicks(table.codes, clicked, to_row[prev][keep], to_row[last][keep])
    if "collisions" in table.manifest:  # how the fit handled collisions, with the figures before
        quality["collisions"] = table.manifest["collisions"]
    try:  # figures that need the fit's inputs (embeddings, the tokenizer): the fit measured them
        fitted = json.loads((_sid_folder(args.sids) / "quality.json").read_text(encoding="utf-8"))
        duplicates = fitted["input_duplicates"]
    except (OSError, ValueError, KeyError, TypeError):
        fitted, duplicates = {}, None
    for key in ("neighbour_preservation@10", "reconstruction_mse"):
        if isinstance(fitted, dict) and key in fitted:
            quality[key] = fitted[key]
    if duplicates is not None:
        import warnings

        from sidkit.content.duplicates import duplicate_warning
        from sidkit.errors import SidkitWarning

        quality["input_duplicates"] = duplicates
        warning = duplicate_warning(duplicates)
        if warning:
            warnings.warn(warning, SidkitWarning, stacklevel=2)
    print(json.dumps(quality, indent=2))
    return 0


def _collision_args(p: argparse.ArgumentParser, default: str | None) -> None:
    from sidkit.sids.collisions import DEFAULT_COLLISIONS, MODES

    g = p.add_argument_group("collision handling")
    g.add_argument("--collisions", choices=MODES, default=default,
                   help="disambiguate: an extra SID level tells colliding items apart; reassign: move a colliding "
                        "item to the least loaded of its k nearest last-level codes" +
                        (" (default: the fit's choice)" if default is None else f" (default {default})"))
    g.add_argument("--collision-k", type=_positive, default=None if default is None else DEFAULT_COLLISIONS["k"],
                   help=f"last-level candidates for reassign (default {DEFAULT_COLLISIONS['k']})")
    g.add_argument("--capacity", type=_positive, default=None if default is None else DEFAULT_COLLISIONS["capacity"],
                   help=f"items per code tuple before reassign moves one (default {DEFAULT_COLLISIONS['capacity']})")


def _collision_choice(args: argparse.Namespace) -> dict:
    return {k: v for k, v in (("mode", args.collisions), ("k", args.collision_k), ("capacity", args.capacity))
            if v is not None}


def cmd_assign(args: argparse.Namespace) -> int:
    from sidkit.atomic import check_writable
    from sidkit.data.files import read_catalog
    from sidkit.sid_store import SIDStore, assign_summary
    from sidkit.sids.versions import version_path

    if args.engine == "ray":
        return _assign_on_ray(args)
    for flag in ("out_shards", "address", "workers", "num_cpus"):
        if getattr(args, flag) is not None:
            raise SidkitError(f"--{flag.replace('_', '-')} is an option of --engine ray; expected --engine ray with it")
    store = SIDStore(args.model_dir, cache_dir=args.cache_dir, encode_batch_size=args.encode_batch_size)
    catalog = read_catalog(args.items)
    if args.sids_out:
        check_writable(Path(args.sids_out).parent)
    report = store.assign(catalog, _collision_choice(args))
    print(assign_summary(report))
    where = f"; their SIDs are in {version_path(args.model_dir, report['version'])}" if report["new"] else ""
    if args.sids_out:
        write_answers(args.sids_out, report["items"])
        where = f"; every item's SID is in {args.sids_out}"
    print(f"{args.model_dir}: version {report['version']}: {report['new']} new items, "
          f"{report['existing']} already there{where}", file=sys.stderr)
    return 0


def _assign_on_ray(args: argparse.Namespace) -> int:
    from sidkit.scale.assign import assign_on_ray

    if args.sids_out:
        raise SidkitError("--sids-out is the in-process engine's CSV; with --engine ray use --out-shards DIR")
    report = assign_on_ray(args.model_dir, args.items, collisions=_collision_choice(args), out_shards=args.out_shards,
                           address=args.address, num_cpus=args.num_cpus, workers=args.workers,
                           num_gpus_per_worker=args.num_gpus_per_worker, cache_dir=args.cache_dir,
                           encode_batch_size=args.encode_batch_size)
    print(json.dumps({k: v for k, v in report.items() if k != "quality_after_full"}, indent=2))
    where = f"; SIDs in {report['output']}" if report["output"] else ""
    print(f"{args.model_dir}: version {report['version']}: {report['new']} new items, {report['existing']} already "
          f"there{where} ({report['seconds']:.0f}s on Ray)", file=sys.stderr)
    return 0


def write_answers(path: str | Path, answers: list[dict]) -> None:
    """item_id, sid (space-separated codes, the disambiguation level last) and tokens, as CSV."""
    import pandas as pd

    from sidkit.atomic import write_file

    df = pd.DataFrame({"item_id": [a["item_id"] for a in answers],
                       "sid": [" ".join(map(str, a["sid"])) for a in answers],
                       "tokens": [a["tokens"] for a in answers]})
    write_file(path, lambda tmp: df.to_csv(tmp, index=False))


def cmd_serve(args: argparse.Namespace) -> int:
    from sidkit.serve.app import serve

    serve(args.model_dir, host=args.host, port=args.port, max_batch=args.max_batch,
          max_body_bytes=args.max_body_mb * 1024 * 1024, cache_dir=args.cache_dir, token_file=args.token_file,
          protect_reads=args.protect_reads, allowed_hosts=tuple(args.allowed_host))
    return 0


def cmd_eval_ranking(args: argparse.Namespace) -> int:
    from sidkit.atomic import check_output_dir, output_dir, write_file, write_json
    from sidkit.downstream.ranking.report import json_safe, ranking_table
    from sidkit.downstream.ranking.run import check_variants, evaluate_ranking

    check_output_dir(args.out)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    check_variants(variants, item_ids=not args.id_free)
    if args.sids and args.codes != "qarm":
        raise SidkitError(f"--sids DIR takes the codes from DIR; expected no --codes {args.codes} with it")
    code_params = _code_params(args)  # a bad view name fails now, not after the first seed
    finetune = _finetune_params(args)
    if finetune is not None and args.sids:
        raise SidkitError("--sids DIR takes its codes as they are; expected no --finetune-encoder with it")
    if args.table_size < 0:
        raise SidkitError(f"--table-size {args.table_size}; expected 0 (one row per gram) or a positive size")
    ds = _load(args)
    if finetune is not None:
        from sidkit.workflow import check_finetune_text

        check_finetune_text(ds)  # before the first seed's samples, not after them
    result = evaluate_ranking(ds, _encoder(args), variants, seeds=list(range(args.seed, args.seed + args.seeds)),
                              dim=args.dim, vq_k=args.vq_k, item_ids=not args.id_free, epochs=args.epochs,
                              neg_ratio=args.neg_ratio, levels=args.levels, codebook_size=args.codebook_size,
                              sids=args.sids, codes=args.codes, code_params=code_params,
                              cf_input=_cf_params(args), finetune=finetune, progress=True,
                              sid_features={"scheme": args.sid_features, "table_size": args.table_size,
                                            "ngram": args.ngram})
    table = ranking_table(result)
    with output_dir(args.out) as tmp:
        write_json(tmp / "ranking.json", json_safe(result))
        write_file(tmp / "ranking.md", lambda p: p.write_text(table + "\n", encoding="utf-8"))
        write_json(tmp / "manifest.json", {"command": "eval ranking", "dataset": ds.name, "variants": variants,
                                           "sid_features": args.sid_features, "table_size": args.table_size,
                                           "ngram": args.ngram, "cf_input": _cf_params(args), "finetune": finetune,
                                           "codes": args.sids or args.codes, "code_params": code_params,
                                           "seeds": args.seeds, "seed": args.seed, "version": __version__})
    print(table)
    print(f"wrote {args.out}/ranking.json and ranking.md", file=sys.stderr)
    return 0


def _generative_dataset(args: argparse.Namespace, table):
    """The data set to evaluate on: a named one, or an interactions file read against the SID table's items."""
    from sidkit.data.files import read_interactions
    from sidkit.data.types import Catalog, Dataset

    if args.dataset or args.items:
        return _load(args)
    if not args.interactions:
        raise SidkitError("give --dataset NAME, or --interactions FILE (item ids as in the SID table)")
    catalog = Catalog(table.item_ids, source=str(args.sids))
    return Dataset("custom", catalog, read_interactions(args.interactions, catalog), "")


def tiger_overrides(args: argparse.Namespace) -> dict:
    """TIGER's training schedule as the flags changed it (epochs cap, early-stopping patience)."""
    return {k: v for k, v in (("epochs", args.tiger_epochs), ("patience", args.tiger_patience)) if v}


def cmd_eval_generative(args: argparse.Namespace) -> int:
    from sidkit.atomic import write_json
    from sidkit.downstream.generative.run import check_config, evaluate_generative
    from sidkit.sids.table import SemanticIDs

    check_config(args.config)
    table = SemanticIDs.read(args.sids)
    ds = _generative_dataset(args, table)
    overrides = tiger_overrides(args)
    result = evaluate_generative(ds, table, config=args.config, seed=args.seed, where=str(args.sids), progress=True,
                                 **overrides)
    folder = _sid_folder(args.sids)
    write_json(folder / "eval_generative.json", result)
    keys = ("recall@5", "recall@10", "ndcg@5", "ndcg@10")
    print(json.dumps({"tiger": {k: round(result[k], 4) for k in keys},
                      "popularity": {k: round(result["popularity"][k], 4) for k in keys},
                      "users_per_second": result["users_per_second"]}, indent=2))
    print(f"wrote {folder}/eval_generative.json", file=sys.stderr)
    return 0


def cmd_bench_generative(args: argparse.Namespace) -> int:
    from sidkit.cli_flags import method_spec, split_specs
    from sidkit.downstream.generative.bench import RESULTS, bench_generative, check_out, generative_table, write_table
    from sidkit.downstream.generative.run import check_config
    from sidkit.methods import METHODS

    check_config(args.config)
    methods = split_specs(args.methods)
    if not methods:
        raise SidkitError("--methods is empty; expected e.g. rq-kmeans,rqvae,rq-kmeans:balance=true")
    specs = {m: method_spec(m, METHODS) for m in methods}
    out = Path(args.out)
    check_out(out)
    seeds = list(range(args.seed, args.seed + args.seeds))
    if args.table_only:
        if not (out / RESULTS).is_file():
            raise SidkitError(f"{out / RESULTS}: no such file; expected a bench folder (--table-only runs nothing)")
        summary = write_table(out, methods, seeds)
        print(generative_table(summary))
        print(f"wrote {out}/generative.md and generative.json", file=sys.stderr)
        return 0
    ds = _load(args)
    fit_params = {"levels": args.levels, "codebook_size": args.codebook_size, **({"steps": args.steps} if args.steps else {})}
    summary = bench_generative(ds, _encoder(args), methods, seeds, out,
                               config=args.config, fit_params=fit_params,
                               tiger=tiger_overrides(args),
                               sasrec={"epochs": args.sasrec_epochs} if args.sasrec_epochs else None,
                               with_sasrec=not args.no_sasrec, specs=specs)
    print(generative_table(summary))
    print(f"wrote {out}/generative.md, generative.json and results.jsonl", file=sys.stderr)
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
    p = _Parser(prog="sidkit", description="Semantic IDs for recommendation.")
    p.add_argument("--version", action="version", version=f"sidkit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_demo_parser, _fit_parser, _assign_parser, _eval_parser, _bench_parser, _serve_parser,
                _quality_parser, _import_parser, _export_parser):
        add(sub)
    return p


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other sidkit error; a flag of another method names it."""

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        self.argv = list(sys.argv[1:] if args is None else args)  # error() names the method from it
        return super().parse_args(args, namespace)

    def error(self, message: str):
        if self.prog == "sidkit fit" and "invalid choice: '" in message:  # argparse's words for a method name
            from sidkit.methods import method_class

            method_class(message.split("invalid choice: '", 1)[1].split("'", 1)[0])  # raises, naming the methods
        argv = getattr(self, "argv", [])
        if message.startswith("unrecognized arguments:") and argv[:1] == ["fit"] and len(argv) > 1:
            from sidkit.cli_flags import flag_owners

            flag = next((a for a in message.split(":", 1)[1].split() if a.startswith("--")), None)
            owners = flag_owners(flag.split("=")[0]) if flag else []
            if owners:
                raise SidkitError(f"{flag}: {argv[1]} has no such option; expected {', '.join(owners)}")
            raise SidkitError(f"{message} (see sidkit fit {argv[1]} --help)")
        raise SidkitError(f"{message} (see {self.prog} --help)")


def _demo_parser(sub) -> None:
    demo = sub.add_parser("demo", help="embed, mine pairs, fit rq-kmeans and QARM on the embedded data, report")
    demo.add_argument("--out", default=DEMO_OUT, help=f"output folder (default {DEMO_OUT})")
    demo.add_argument("--data-dir", help="read scientific from this folder instead of the embedded copy")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--levels", type=_positive, default=3)
    demo.add_argument("--codebook-size", type=_positive, default=256)
    demo.add_argument("--template", help="text template (default: title, brand, categories, description)")
    _encoder_args(demo)
    demo.set_defaults(func=cmd_demo)


def _fit_parser(sub) -> None:
    from sidkit.cli_flags import add_param_flags
    from sidkit.methods import METHODS, method_names

    fit = sub.add_parser("fit", help="fit a tokenizer and write sids.parquet, manifest.json, quality.json",
                         description="One subcommand per method; `sidkit fit METHOD --help` lists its parameters.")
    methods = fit.add_subparsers(dest="method", required=True, metavar="METHOD",
                                 title=f"methods: {', '.join(method_names())}")
    for name in method_names():
        cls = METHODS[name]
        doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()
        m = methods.add_parser(name, help=doc[0] if doc else name, description=doc[0] if doc else None)
        _data_args(m)
        m.add_argument("--out", required=True, help="output folder (new, or a previous sidkit output)")
        m.add_argument("--sample", type=_positive,
                       help="fit on a seeded uniform sample of N items of --items (a folder or glob of Parquet shards "
                            "is read shard by shard); assign the rest with `sidkit assign --engine ray`")
        m.add_argument("--pairs", default="u2i,swing", help="pair miners for alignment: u2i,swing,cooccurrence")
        m.add_argument("--no-pair-cache", action="store_true",
                       help="mine pairs again even if the cache holds them for the same clicks, sources and seed")
        m.add_argument("--strict", action="store_true", help="refuse items whose text is empty (default: warn)")
        _cf_args(m)
        _finetune_args(m)
        add_param_flags(m, cls, f"{name} parameters (from its constructor)")
        if "checkpoint_dir" in inspect.signature(cls.fit).parameters:
            t = m.add_argument_group("checkpoints")
            t.add_argument("--checkpoint-dir", help="write a checkpoint here every checkpoint_every steps")
            t.add_argument("--resume", action="store_true", help="continue from the checkpoint in --checkpoint-dir")
        _collision_args(m, "disambiguate")
        _encoder_args(m)
        m.set_defaults(func=cmd_fit)


def _cf_args(p: argparse.ArgumentParser) -> None:
    from sidkit.collab.cf_input import COLD_RULES
    from sidkit.collab.item_factors import KINDS

    g = p.add_argument_group("collaborative input (for catalogues whose content cannot tell items apart)")
    g.add_argument("--cf-input", choices=KINDS,
                   help="fuse item factors learned from the training clicks into every method's input: cooc (SVD "
                        "of co-click PMI, item2vec's closed form) or bpr")
    g.add_argument("--cf-weight", type=float, default=0.2, help="the CF part's share of the input (default 0.2)")
    g.add_argument("--cf-dim", type=_positive, default=64, help="item factor dimensions (default 64)")
    g.add_argument("--cf-cold", choices=COLD_RULES, default="mapped",
                   help="CF part of items without training clicks and of new items: mapped (ridge regression from "
                        "content, fitted on the clicked items) or zero")


FINETUNE_FIT = ("fine-tune the text model on the mined item pairs (in-batch negatives) before any method sees the "
                "items; saved in the output folder so `assign` encodes new items the same way")
FINETUNE_RANKING = ("fine-tune the text model per seed on the pairs mined from that seed's training clicks, then "
                    "embed every item (cold ones included) with it before the codes are fitted")


def _finetune_args(p: argparse.ArgumentParser, what: str = FINETUNE_FIT) -> None:
    g = p.add_argument_group("encoder fine-tuning (QARM's alignment of the text encoder itself)")
    g.add_argument("--finetune-encoder", action="store_true", help=what)
    g.add_argument("--finetune-epochs", type=_positive, default=1, help="passes over the pairs (default 1)")
    g.add_argument("--finetune-max-pairs", type=_positive,
                   help="train on a seeded sample of this many pairs (default all)")
    g.add_argument("--finetune-lr", type=float, default=2e-5, help="AdamW learning rate (default 2e-5)")
    g.add_argument("--finetune-batch-size", type=_positive, default=64, help="pairs per step (default 64)")
    g.add_argument("--finetune-layers", default="all",
                   help="top transformer layers that learn (default all; e.g. 2 is 4x faster per pair on CPU)")


def _finetune_params(args: argparse.Namespace) -> dict | None:
    if not getattr(args, "finetune_encoder", False):
        return None
    if not args.finetune_lr > 0:
        raise SidkitError(f"--finetune-lr {args.finetune_lr}; expected a positive learning rate")
    if args.finetune_batch_size < 2:
        raise SidkitError("--finetune-batch-size 1; expected at least 2 (the other pairs are the negatives)")
    layers = args.finetune_layers
    if layers != "all" and not (layers.isdigit() and int(layers) > 0):
        raise SidkitError(f"--finetune-layers {layers!r}; expected a positive number of layers or 'all'")
    return {"epochs": args.finetune_epochs, "max_pairs": args.finetune_max_pairs, "lr": args.finetune_lr,
            "batch_size": args.finetune_batch_size, "train_layers": None if layers == "all" else int(layers)}


def _cf_params(args: argparse.Namespace) -> dict | None:
    if not args.cf_input:
        return None
    from sidkit.collab.cf_input import CFInput

    params = {"kind": args.cf_input, "weight": args.cf_weight, "dim": args.cf_dim, "cold": args.cf_cold}
    CFInput(**params)  # a bad setting fails now, not after embedding
    return params


def _cf_input(args: argparse.Namespace, seed: int):
    from sidkit.collab.cf_input import CFInput

    params = _cf_params(args)
    return CFInput(**params, seed=seed) if params else None


def _assign_parser(sub) -> None:
    a = sub.add_parser("assign", help="give SIDs to new items with a fitted model; appended as a new version")
    a.add_argument("model_dir", help="a folder written by `sidkit fit`")
    a.add_argument("--items", required=True,
                   help="new items: item_id + the template's text fields, or an 'embedding' column (the model's input)")
    a.add_argument("--sids-out", help="write every item's SID (item_id, sid, tokens) to this CSV file")
    r = a.add_argument_group("engine (a folder or glob of Parquet shards, on Ray; pip install 'sidkit[ray]')")
    r.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process holds the items; ray: actors encode the shards, Ray Data runs the "
                        "global collision step (the same SIDs)")
    r.add_argument("--out-shards", help="write every input item's SID as Parquet parts here (committed by "
                                        "DIR/manifest.json) and leave the model folder as it is")
    r.add_argument("--address", help="join this Ray cluster (auto, ray://HOST:PORT); default: a local one")
    r.add_argument("--num-cpus", type=_positive, help="CPUs of the local Ray (default: all)")
    r.add_argument("--workers", type=_positive, help="encoding actors (default: one per CPU)")
    r.add_argument("--num-gpus-per-worker", type=float, default=0.0, help="GPUs per encoding actor (text on GPUs)")
    _collision_args(a, None)
    _encoder_args(a)
    a.set_defaults(func=cmd_assign)


def _eval_parser(sub) -> None:
    ev = sub.add_parser("eval", help="downstream evaluations of SIDs")
    ev_sub = ev.add_subparsers(dest="evaluation", required=True)
    _ranking_parser(ev_sub)
    _generative_parser(ev_sub)


def _ranking_parser(ev_sub) -> None:
    r = ev_sub.add_parser("ranking", help="QARM ranking: SIDs as features of an MMoE ranker (AUC / UAUC / GAUC)")
    _data_args(r)
    r.add_argument("--variants", default="baseline,ia-rep,vq,rq,vq+rq",
                   help="comma-separated: baseline, ia-rep, vq, rq, vq+rq; with user SIDs (das): user, rq+user")
    r.add_argument("--sids", help="a SID folder to take codes from, fitted without the test period's interactions "
                                  "(default: QARM fitted here on the training clicks only)")
    r.add_argument("--out", required=True, help="output folder: ranking.json, ranking.md")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--seeds", type=_positive, default=1, help="runs with seeds seed..seed+N-1, reported as mean ± std")
    r.add_argument("--dim", type=_positive, default=32, help="embedding dimension d (default 32)")
    r.add_argument("--vq-k", type=_positive, default=25, help="VQ code length K: top-K items (default 25)")
    r.add_argument("--epochs", type=_positive, default=2)
    r.add_argument("--neg-ratio", type=_positive, default=4, help="sampled non-clicked exposures per click (default 4)")
    r.add_argument("--levels", type=_positive, default=3, help="RQ levels of the tokenizer fitted here")
    r.add_argument("--codebook-size", type=_positive, default=64, help="codebook size of the tokenizer fitted here")
    r.add_argument("--id-free", action="store_true", help="no item-ID embedding (cold-start mode)")
    from sidkit.methods import method_names

    r.add_argument("--codes", choices=method_names(), default="qarm",
                   help="method fitted here per seed on the training clicks (qarm adds VQ codes, das user SIDs)")
    r.add_argument("--steps", type=_positive, help="optimizer steps of a gradient-trained --codes method")
    r.add_argument("--no-view", action="append", default=[], metavar="NAME", help="das without this alignment view")
    r.add_argument("--no-debias", action="store_true", help="das with a plain two-tower CF model")
    f = r.add_argument_group("SID feature parameterisation (item SIDs and DAS user SIDs)")
    f.add_argument("--sid-features", choices=("per-level", "prefix-ngram", "ngram"), default="per-level",
                   help="per-level: a table per level; prefix-ngram: a row per prefix 1..L; ngram: a row per "
                        "contiguous n-gram up to --ngram (the last two in one table of --table-size rows)")
    f.add_argument("--table-size", type=int, default=0,
                   help="hash prefixes / n-grams into this many rows (default 0: one row per possible gram)")
    f.add_argument("--ngram", type=_positive, default=2, help="longest n-gram of --sid-features ngram (default 2)")
    _cf_args(r)
    _finetune_args(r, FINETUNE_RANKING)
    _encoder_args(r)
    r.set_defaults(func=cmd_eval_ranking)


def _generative_parser(ev_sub) -> None:
    g = ev_sub.add_parser("generative", help="TIGER over SIDs: Recall/NDCG@5/10 on each user's last item, "
                                             "most-popular beside it")
    g.add_argument("sids", help="a SID folder (or its sids.parquet); eval_generative.json is written there")
    _data_args(g)
    g.add_argument("--config", default="small", help="small (2-core CPU) or paper (TIGER's sizes, for a GPU)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--tiger-patience", type=_positive, help="validations without improvement before "
                    "TIGER stops (default: the config's, 2 for small)")
    g.add_argument("--tiger-epochs", type=_positive, help="cap TIGER's training epochs (default: the config's; "
                   "the best validated epoch is kept)")
    _encoder_args(g)
    g.set_defaults(func=cmd_eval_generative)


def _bench_parser(sub) -> None:
    b = sub.add_parser("bench", help="benchmarks over several tokenizers")
    b_sub = b.add_subparsers(dest="benchmark", required=True)
    bg = b_sub.add_parser("generative", help="fit each tokenizer, train TIGER on its SIDs, table over seeds "
                                             "(resumes where a killed run stopped)")
    _data_args(bg)
    from sidkit.methods import method_names

    bg.add_argument("--methods", default=",".join(method_names()), help="comma-separated (default: every method); a "
                    "variant gives constructor values, e.g. rq-kmeans:balance=true,letter:collab_weight=0.01")
    bg.add_argument("--seeds", type=_positive, default=3)
    bg.add_argument("--seed", type=int, default=0, help="first seed")
    bg.add_argument("--config", default="small", help="TIGER config: small or paper")
    bg.add_argument("--steps", type=_positive, help="optimizer steps of gradient-trained tokenizers (default 3000)")
    bg.add_argument("--tiger-patience", type=_positive, help="validations without improvement before "
                    "TIGER stops (default: the config's, 2 for small)")
    bg.add_argument("--tiger-epochs", type=_positive, help="TIGER's training epochs (default: the config's; the best "
                    "validated epoch is kept)")
    bg.add_argument("--sasrec-epochs", type=_positive, help="SASRec's training epochs (default 60, early stopped)")
    bg.add_argument("--no-sasrec", action="store_true", help="leave out the SASRec units (e.g. for a second process "
                    "writing to the same --out with other methods)")
    bg.add_argument("--levels", type=_positive, default=3)
    bg.add_argument("--codebook-size", type=_positive, default=256)
    bg.add_argument("--out", required=True, help="folder: results.jsonl (resume), sids/, generative.md, generative.json")
    bg.add_argument("--table-only", action="store_true", help="write the table from the units results.jsonl "
                    "holds and run nothing (while other processes run units, or after a run cut short)")
    _encoder_args(bg)
    bg.set_defaults(func=cmd_bench_generative)


def _serve_parser(sub) -> None:
    s = sub.add_parser("serve", help="HTTP service over a fitted model folder: lookups, assign, quality")
    s.add_argument("model_dir", help="a folder written by `sidkit fit`")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_positive, default=8000)
    s.add_argument("--max-batch", type=_positive, default=10000, help="items per batch request (default 10000)")
    s.add_argument("--max-body-mb", type=_positive, default=32, help="request body limit in MiB (default 32)")
    s.add_argument("--cache-dir", help="embedding cache for texts sent to /assign")
    s.add_argument("--token-file", help="file whose first line is the bearer token POST /assign needs (default "
                                        "$SIDKIT_TOKEN; without either, /assign is open on loopback only)")
    s.add_argument("--protect-reads", action="store_true", help="lookups need the token too (/healthz stays open)")
    s.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a Host name clients use besides the bound address (repeatable), e.g. behind a proxy")
    s.set_defaults(func=cmd_serve)


def _quality_parser(sub) -> None:
    q = sub.add_parser("quality", help="print the quality figures of a sids.parquet")
    q.add_argument("sids", help="path to sids.parquet (or its folder), or an --out-shards folder")
    _data_args(q)
    q.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="ray: count code tuples on Ray (tables too large for one process; collision figures only)")
    q.add_argument("--address", help="join this Ray cluster (auto, ray://HOST:PORT); default: a local one")
    q.add_argument("--num-cpus", type=_positive, help="CPUs of the local Ray (default: all)")
    q.set_defaults(func=cmd_quality)


def _import_parser(sub) -> None:
    i = sub.add_parser("import", help="SIDs made elsewhere (LC-Rec index JSON, Parquet item_id + codes) as a SID "
                                      "folder that quality, eval generative and eval ranking read like a fit")
    i.add_argument("file", help="an LC-Rec/LETTER index .json ({\"0\": [\"<a_12>\", ...]}) or a .parquet "
                                "with item_id, codes")
    _data_args(i)
    i.add_argument("--out", required=True, help="output folder (sids.parquet, manifest.json, quality.json)")
    i.add_argument("--item-order", help="for a .json index: a text file of item ids, one per line, in the order "
                                        "of the index's row numbers (default: the catalogue's order)")
    i.add_argument("--codebook-sizes", help="codes per level, e.g. 256,256,256 (default: the largest code + 1)")
    i.set_defaults(func=cmd_import)


def _export_parser(sub) -> None:
    e = sub.add_parser("export", help="a SID folder's codes as an LC-Rec index .json or a Parquet item_id, codes")
    e.add_argument("sids", help="a SID folder (or its sids.parquet)")
    e.add_argument("--out", required=True, help="FILE.json (LC-Rec index, rows in the table's order) or FILE.parquet")
    e.add_argument("--with-disambiguation", action="store_true",
                   help="add the disambiguation level as one more token (json)")
    e.set_defaults(func=cmd_export)


def cmd_import(args: argparse.Namespace) -> int:
    from sidkit.atomic import check_output_dir
    from sidkit.workflow import import_to_dir

    check_output_dir(args.out)
    sizes = None
    if args.codebook_sizes:
        try:
            sizes = [int(k) for k in args.codebook_sizes.split(",")]
        except ValueError:
            sizes = []
        if not sizes or min(sizes) < 1:
            raise SidkitError(f"--codebook-sizes {args.codebook_sizes!r}; expected positive integers like 256,256,256")
    order = None
    if args.item_order:
        try:
            order = [line.strip() for line in Path(args.item_order).read_text(encoding="utf-8").splitlines()
                     if line.strip()]
        except (OSError, UnicodeDecodeError) as e:
            raise SidkitError(f"{args.item_order}: cannot be read ({type(e).__name__}); expected item ids, one a line")
    ds = _load(args)
    source = {k: str(Path(v).resolve()) if v and k != "dataset" else v
              for k, v in (("dataset", args.dataset), ("data_dir", args.data_dir), ("items", args.items),
                           ("interactions", args.interactions))}
    table = import_to_dir(ds, args.file, args.out, item_order=order, codebook_sizes=sizes, source=source)
    print(json.dumps(json.loads((Path(args.out) / "quality.json").read_text(encoding="utf-8")), indent=2))
    print(f"wrote {args.out}/sids.parquet ({len(table)} items, {table.levels} levels)", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from sidkit.sids.external import write_codes_parquet, write_lcrec_index
    from sidkit.sids.table import SemanticIDs

    suffix = Path(args.out).suffix.lower()
    if suffix not in (".json", ".parquet"):
        raise SidkitError(f"--out {args.out}: expected a .json (LC-Rec index) or .parquet file name")
    table = SemanticIDs.read(args.sids)
    if suffix == ".json":
        write_lcrec_index(table, args.out, args.with_disambiguation)
    else:
        write_codes_parquet(table, args.out)
    print(f"wrote {args.out} ({len(table)} items)", file=sys.stderr)
    return 0


def _one_line_warnings() -> None:
    """sidkit's own warnings as ``sidkit: warning: ...`` lines; other libraries' keep their format."""
    import warnings

    from sidkit.errors import SidkitWarning

    plain = warnings.formatwarning
    if getattr(plain, "sidkit", False):  # main() called again in one process (tests, notebooks)
        return

    def fmt(message, category, filename, lineno, line=None):
        if issubclass(category, SidkitWarning):
            return f"sidkit: warning: {message}\n"
        return plain(message, category, filename, lineno, line)

    fmt.sidkit = True
    warnings.formatwarning = fmt


def main(argv: list[str] | None = None) -> int:
    _one_line_warnings()
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except SidkitError as e:
        print(f"sidkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sidkit: interrupted; no output was written", file=sys.stderr)
        return 130
    except OSError as e:  # a full disk or a folder gone read-only mid-run: the output was not committed
        where = f"{e.filename}: " if e.filename else ""
        print(f"sidkit: error: {where}{e.strerror or e}; no output was written", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
