"""The main job as a Python API: data → content embeddings → pairs → tokenizer → SID files.

The CLI is a thin shell over these functions; a notebook calls them directly.
"""

from __future__ import annotations

import inspect
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sidkit.atomic import output_dir, write_file, write_json
from sidkit.collab.cf_input import CFInput
from sidkit.collab.item_pairs import ItemPairs
from sidkit.collab.mine import mine_or_load
from sidkit.content.duplicates import duplicate_inputs, duplicate_warning
from sidkit.content.embedding_cache import default_cache_dir
from sidkit.content.item_embeddings import content_spec, item_embeddings
from sidkit.content.text_encoder import TextEncoder
from sidkit.content.user_embeddings import resolve_source, user_embeddings
from sidkit.data.splits import last_transitions, leave_one_out
from sidkit.data.types import Dataset, Interactions
from sidkit.errors import SidkitError, SidkitWarning
from sidkit.methods.base import Tokenizer
from sidkit.methods.registry import make_tokenizer
from sidkit.sids.collisions import DEFAULT_COLLISIONS, SHOWN, check_mode, handle_collisions
from sidkit.sids.quality import collab_prefix_agreement, neighbour_preservation, quality_by_clicks, sid_quality
from sidkit.sids.table import SemanticIDs


@dataclass
class Prepared:
    """What every method of one run shares: embeddings, the split's training part, the pairs."""

    dataset: Dataset
    embeddings: np.ndarray
    pairs: ItemPairs | None
    held_out: tuple[np.ndarray, np.ndarray]
    seconds: dict[str, float]
    content: dict | None = None  # how embeddings were made (content_spec), so assign can do the same
    train: Interactions | None = None  # the split's training part (what methods fitted on clicks see)
    user_embeddings: np.ndarray | None = None  # [n_users, d_u] for methods with user SIDs (das)
    pairs_cached: bool = False  # the pairs came from the pair cache
    input_duplicates: dict | None = None  # content.duplicates: items sharing their input with another
    cf_input: CFInput | None = None  # --cf-input: embeddings = content fused with CF factors (collab/cf_input.py)
    text_encoder: TextEncoder | None = None  # --finetune-encoder: the fine-tuned text encoder

    def first(self, n: int) -> "Prepared":
        """The first ``n`` items as if the catalogue ended there (pairs and held-out transitions inside
        them): fit on part of a catalogue, then assign the rest as new items."""
        p, (prev, last) = self.pairs, self.held_out
        keep = (prev < n) & (last < n)
        pairs = None
        if p is not None:
            inside = (p.trigger < n) & (p.target < n)
            pairs = ItemPairs(p.trigger[inside], p.target[inside], p.source[inside])
        dataset = replace(self.dataset, catalog=self.dataset.catalog.subset(np.arange(n)))
        if self.user_embeddings is not None or self.cf_input is not None:
            raise SidkitError("Prepared.first: user embeddings and CF input were made from the whole catalogue's clicks; "
                              "expected a preparation without users or CF input")
        train = self.train.first_items(n) if self.train is not None else None
        return Prepared(dataset, self.embeddings[:n], pairs, (prev[keep], last[keep]), {}, self.content, train,
                        text_encoder=self.text_encoder)


@dataclass
class FitResult:
    method: str
    tokenizer: Tokenizer
    sids: SemanticIDs
    quality: dict
    seconds: float
    collisions: dict  # the mode used (assign's default) and, for reassign, what moved
    users: SemanticIDs | None = None   # user SIDs, for methods that make them (das)
    user_quality: dict | None = None


def pair_cache_dir(encoder: TextEncoder | None) -> Path:
    """Pairs are cached beside the text embeddings: ``--cache-dir``, else $SIDKIT_CACHE or ~/.cache/sidkit."""
    return Path(encoder.cache_dir) if encoder is not None and encoder.cache_dir else default_cache_dir()


def prepare(dataset: Dataset, encoder: TextEncoder | None = None, *, need_pairs: bool = True,
            pair_sources: tuple[str, ...] = ("u2i", "swing"), seed: int = 0, need_users: bool = False,
            user_content: str = "auto", half_life: float = 10.0, cache_pairs: bool = True,
            strict: bool = False, progress: bool = False, cf_input: CFInput | None = None,
            finetune: dict | None = None) -> Prepared:
    """Embeddings, split and pairs; with ``need_users`` also the users' content embeddings
    (content/user_embeddings.py: ``user_content`` auto, profile, history, profile+history; ``half_life``
    of the history's recency weights, in items). Pairs are cached (collab/pair_cache.py) unless
    ``cache_pairs`` is false; ``strict`` refuses items with empty text. With ``finetune`` (the options of
    methods/encoder_finetune.finetune_encoder) the text encoder is first fine-tuned on the mined pairs
    and the items embedded with it. With ``cf_input`` the embeddings are the content fused with item
    factors fitted on the split's training clicks (collab/cf_input.py)."""
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if progress else (lambda m: None)
    seconds = {}
    t = time.perf_counter()
    say(f"[embed] {len(dataset.catalog)} items")
    x = item_embeddings(dataset, encoder, strict=strict)
    seconds["embed"] = time.perf_counter() - t
    clicks = dataset.interactions
    if clicks is None and (need_pairs or need_users or cf_input is not None or finetune is not None):
        why = ("mines item pairs" if need_pairs else "makes user SIDs" if need_users else "uses --cf-input"
               if cf_input is not None else "fine-tunes the encoder on item pairs")
        raise SidkitError(f"{dataset.name}: no interactions; expected --interactions FILE (this run {why}, "
                          "which needs clicks)")
    split = leave_one_out(clicks) if clicks is not None else None
    spec = content_spec(dataset, encoder, x)
    pairs, cached = None, False
    if need_pairs or finetune is not None:
        t = time.perf_counter()
        say(f"[pairs] mining {', '.join(pair_sources)} from {len(split.train)} training interactions")
        pairs, cached = mine_or_load(split.train, pair_sources, seed, pair_cache_dir(encoder) if cache_pairs else None,
                                     progress)  # training part only: no test leakage
        seconds["pairs"] = time.perf_counter() - t
        say(f"[pairs] {len(pairs)} pairs {pairs.counts()} in {seconds['pairs']:.1f}s"
            + (" (from the cache)" if cached else ""))
    tuned = None
    if finetune is not None:
        t = time.perf_counter()
        x, spec, tuned = finetuned_embeddings(dataset, encoder, pairs, finetune, seed, strict, progress)
        seconds["finetune"] = time.perf_counter() - t
        if not need_pairs:
            pairs = None
    if cf_input is not None:
        t = time.perf_counter()
        say(f"[cf] {cf_input.kind} item factors from {len(split.train)} training interactions")
        x = cf_input.fit(split.train, x).fitted_input(x)
        spec["cf"] = cf_input.spec()
        seconds["cf"] = time.perf_counter() - t
    duplicates = duplicate_inputs(x)
    warning = duplicate_warning(duplicates)
    if warning:
        warnings.warn(warning, SidkitWarning, stacklevel=2)
    users = None
    if need_users:
        t = time.perf_counter()
        users = user_embeddings(dataset, split.train, x, tuned or encoder, user_content, half_life)
        seconds["users"] = time.perf_counter() - t
    held_out = last_transitions(clicks) if clicks is not None else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    return Prepared(dataset, x, pairs, held_out, seconds, spec, split.train if split is not None else None, users,
                    cached, duplicates, cf_input, tuned)


def check_finetune_text(dataset: Dataset) -> None:
    if not (dataset.text_template and dataset.catalog.text):
        raise SidkitError(f"{dataset.catalog.source}: no text to fine-tune the encoder on; expected text fields "
                          "and a --template (--finetune-encoder trains the text model)")


def finetuned_embeddings(dataset: Dataset, encoder: TextEncoder | None, pairs: ItemPairs, options: dict,
                         seed: int, strict: bool = False, progress: bool = False
                         ) -> tuple[np.ndarray, dict, TextEncoder]:
    """(x from the fine-tuned encoder, its content spec, the encoder): ``prepare``'s step, and the ranking
    evaluation's, which fine-tunes on each seed's training pairs. Whatever else is embedded from text
    (DAS users' profiles) should go through the returned encoder, so users and items share one space."""
    from sidkit.content.item_embeddings import item_texts
    from sidkit.content.text_encoder import DEFAULT_MODEL, weights_digest
    from sidkit.methods.encoder_finetune import finetune_encoder

    check_finetune_text(dataset)
    base = encoder.model if encoder is not None else DEFAULT_MODEL
    if progress:
        print(f"[encoder] fine-tuning {base} on {len(pairs)} pairs", file=sys.stderr, flush=True)
    st, history = finetune_encoder(item_texts(dataset), pairs, model=base, seed=seed, progress=progress, **options)
    digest = weights_digest(st)
    tuned = TextEncoder.wrap(st, f"finetuned:{digest}", cache_dir=encoder.cache_dir if encoder else None,
                             batch_size=encoder.batch_size if encoder else 64, show_progress=progress)
    x = item_embeddings(dataset, tuned, strict=strict)
    spec = content_spec(dataset, encoder, x)
    spec["encoder"] = {"folder": "encoder", "digest": digest, "base": base, "options": options, "history": history}
    return x, spec, tuned


def fit_method(prep: Prepared, method: str, *, levels: int = 3, codebook_size: int = 256, seed: int = 0,
               fit_options: dict | None = None, collisions: dict | None = None, **params) -> FitResult:
    """Fit one method. ``fit_options`` go to ``fit`` (gradient-trained methods: checkpoint_dir, resume,
    progress); ``collisions``: {"mode", "k", "capacity"} (sids.collisions; default disambiguate);
    ``params`` to the constructor."""
    collisions = {**DEFAULT_COLLISIONS, **(collisions or {})}
    check_mode(**collisions)  # before the fit, not after it
    tok = make_tokenizer(method, levels=levels, codebook_size=codebook_size, seed=seed, **params)
    if tok.needs_interactions and prep.train is None:
        raise SidkitError(f"{method} learns from clicks; expected a dataset with interactions")
    if tok.needs_users and prep.user_embeddings is None:
        raise SidkitError(f"{method} needs user embeddings; expected prepare(..., need_users=True)")
    if prep.cf_input is not None and method == "qarm":
        warnings.warn("qarm already aligns its space to co-clicked pairs; with --cf-input as well its level-1 prefix "
                      "agreement fell (scientific 11.8% -> 8.0%, BENCHMARKS.md 'CF as an input modality'): for "
                      "content-poor catalogues prefer rq-kmeans or rqvae with --cf-input", SidkitWarning, stacklevel=2)
    t = time.perf_counter()
    fit_tokenizer(tok, prep.embeddings, pairs=prep.pairs, interactions=prep.train, user_x=prep.user_embeddings,
                  **(fit_options or {}))
    seconds = time.perf_counter() - t
    codes, encoded, handled = handle_collisions(collisions, lambda: tok.labels_,
                                                lambda k: tok.candidates(prep.embeddings, k))
    if codes is not encoded:
        handled["before"] = {k: v for k, v in sid_quality(encoded, tok.codebook_sizes).items() if k in SHOWN}
    sids = SemanticIDs(prep.dataset.catalog.item_ids, codes, tok.codebook_sizes, getattr(tok, "vq_codes_", None))
    quality = sid_quality(sids.codes, sids.codebook_sizes)
    quality["collab_prefix_agreement"] = collab_prefix_agreement(sids.codes, *prep.held_out)
    quality["collisions"] = handled
    if prep.train is not None:  # where collisions remain: items the clicks know vs items they do not
        clicked = np.bincount(prep.train.items, minlength=len(sids)) > 0
        quality["by_clicks"] = quality_by_clicks(sids.codes, clicked, *prep.held_out)
    quality["neighbour_preservation@10"] = neighbour_preservation(prep.embeddings, sids.codes)
    if type(tok).decode is not Tokenizer.decode:  # a method that can decode: how much its codes lose
        quality["reconstruction_mse"] = tok.reconstruction_mse(prep.embeddings, encoded)
    quality["input_duplicates"] = prep.input_duplicates or duplicate_inputs(prep.embeddings)
    users = user_quality = None
    if getattr(tok, "user_labels_", None) is not None:
        users = SemanticIDs(prep.train.user_ids, tok.user_labels_, tok.user_codebook_sizes, id_column="user_id")
        user_quality = sid_quality(users.codes, users.codebook_sizes)
    return FitResult(method, tok, sids, quality, seconds, handled, users, user_quality)


def fit_tokenizer(tok: Tokenizer, x: np.ndarray, *, pairs: ItemPairs | None = None,
                  interactions: Interactions | None = None, user_x: np.ndarray | None = None,
                  **options) -> Tokenizer:
    """``tok.fit`` with what the method says it needs (``needs_pairs``, ``needs_interactions``,
    ``needs_users``) and the options its ``fit`` takes (checkpoint_dir, resume, progress): the one place a
    tokenizer is fed."""
    accepted = inspect.signature(tok.fit).parameters
    kwargs = {k: v for k, v in options.items() if k in accepted}
    if tok.needs_interactions:
        kwargs["interactions"] = interactions
    if tok.needs_users:
        kwargs["user_x"] = user_x
    return tok.fit(x, pairs if tok.needs_pairs else None, **kwargs)


def write_result(result: FitResult, directory: Path, prep: Prepared, seed: int, extra: dict | None = None) -> None:
    """Write one method's files into ``directory`` (already a temp folder inside an atomic output)."""
    tok = result.tokenizer
    tok.save(directory / "model")
    if prep.cf_input is not None:
        prep.cf_input.save(directory)
    if prep.text_encoder is not None:
        from sidkit.methods.encoder_finetune import save_encoder

        save_encoder(prep.text_encoder.sentence_transformer, directory / prep.content["encoder"]["folder"])
    manifest = {
        "method": result.method,
        "dataset": prep.dataset.name,
        "seed": seed,
        "params": tok.get_params(),
        "text_template": prep.dataset.text_template,
        "content": prep.content,
        "collisions": result.collisions,  # the fit's choice (assign's default) and what it did
        "fit_seconds": round(result.seconds, 3),
        **(extra or {}),
    }
    manifest["seconds"] = {**{k: round(v, 3) for k, v in prep.seconds.items()}, "fit": round(result.seconds, 3)}
    if prep.pairs is not None and tok.needs_pairs:
        manifest["pairs"] = prep.pairs.counts()
        manifest["pairs_cached"] = prep.pairs_cached
    if getattr(tok, "history_", None):
        manifest["alignment_history"] = tok.history_
    log = getattr(tok, "training_log_", None)
    if log:
        write_training_log(directory / "training_log.csv", log)
        manifest["training_summary"] = training_summary(log)
    if result.users is not None:
        result.users.write_parquet(directory / "user_sids.parquet")
        write_json(directory / "user_quality.json", result.user_quality)
        manifest["users"] = {"file": "user_sids.parquet", "n_users": len(result.users),
                             "codebook_sizes": [int(k) for k in result.users.codebook_sizes],
                             "content": resolve_source(tok.user_content, prep.dataset)}
    result.sids.write(directory, **manifest)
    write_json(directory / "quality.json", result.quality)


def write_training_log(path: Path, log: list[dict[str, float]]) -> None:
    """One row per optimizer step, one column per logged term (empty where a term was not logged)."""
    frame = pd.DataFrame(log)
    write_file(path, lambda tmp: frame.to_csv(tmp, index=False))


def training_summary(log: list[dict[str, float]], window: int = 50) -> dict[str, dict[str, float]]:
    """Mean of every logged term over the first and the last ``window`` steps."""
    frame = pd.DataFrame(log).drop(columns=["step"])
    return {"first_steps": {k: round(float(v), 6) for k, v in frame.head(window).mean().dropna().items()},
            "last_steps": {k: round(float(v), 6) for k, v in frame.tail(window).mean().dropna().items()}}


def fit_to_dir(prep: Prepared, method: str, out: str | Path, *, levels: int = 3, codebook_size: int = 256,
               seed: int = 0, extra: dict | None = None, fit_options: dict | None = None, **params) -> FitResult:
    """Fit one method and write its folder atomically (nothing is left behind if anything fails)."""
    with output_dir(out) as tmp:
        result = fit_method(prep, method, levels=levels, codebook_size=codebook_size, seed=seed,
                            fit_options=fit_options, **params)
        write_result(result, tmp, prep, seed, extra)
        write_fit_report(tmp / "report.html", result, prep)
    return result


def write_fit_report(path: Path, result: FitResult, prep: Prepared) -> None:
    from sidkit.report.html import write_report

    catalog = prep.dataset.catalog
    titles = catalog.text.get("title") or next(iter(catalog.text.values()), None) or catalog.item_ids
    tok = result.tokenizer
    space = tok.transform(prep.embeddings) if hasattr(tok, "transform") else prep.embeddings
    write_report(path, f"sidkit fit {result.method} on {prep.dataset.name}", {result.method: result.quality},
                 {result.method: result.sids.codes}, {result.method: space}, list(titles),
                 {f"{result.method} alignment": tok.history_} if getattr(tok, "history_", None) else None,
                 training_logs={result.method: tok.training_log_} if getattr(tok, "training_log_", None) else None)


def import_to_dir(dataset: Dataset, path: str | Path, out: str | Path, *, item_order: list[str] | None = None,
                  codebook_sizes: list[int] | None = None, source: dict | None = None) -> SemanticIDs:
    """SIDs made elsewhere (sids/external.py) as a SID folder like a fitted one: ``sids.parquet``,
    ``manifest.json``, ``sid_tokens.json`` and ``quality.json`` with the figures that need only the codes
    and the clicks (no model, so no reconstruction or decode). ``eval generative`` / ``eval ranking`` /
    ``quality`` read it as they read a fit."""
    from sidkit.sids.external import read_external

    table = read_external(path, dataset.catalog.item_ids, item_order, codebook_sizes)
    quality = sid_quality(table.codes, table.codebook_sizes)
    clicks = dataset.interactions
    if clicks is not None:
        held_out = last_transitions(clicks)
        quality["collab_prefix_agreement"] = collab_prefix_agreement(table.codes, *held_out)
        clicked = np.bincount(leave_one_out(clicks).train.items, minlength=len(table)) > 0
        quality["by_clicks"] = quality_by_clicks(table.codes, clicked, *held_out)
    with output_dir(out) as tmp:
        table.write(tmp, method="import", dataset=dataset.name,
                    imported={"file": str(Path(path).resolve()), "format": Path(path).suffix.lstrip(".").lower()},
                    source=source or {"dataset": dataset.name})
        write_json(tmp / "quality.json", quality)
    return table
