"""The ranking evaluation of QARM Tables 1, 2 and 5 on public data: variants, metrics, popularity groups,
cold start.

Variants (which item features the model gets on top of user/item IDs and the click history):
``baseline`` (IDs only), ``ia-rep`` (+ QARM's frozen aligned representation), ``vq`` (+ VQ codes),
``rq`` (+ RQ codes and the prefix-match cross features), ``vq+rq`` (both); with user SIDs (DAS):
``user`` (+ the user's own SID codes), ``rq+user`` (item RQ codes and user codes: DAS's Table 1 setting).

The codes come from QARM or DAS fitted here on the training clicks only (pairs mined, CF model and
user histories trained on training interactions; the content of every item, cold ones included, is
known), or from any SID folder (``sids``, with ``user_sids.parquet`` where there is one): then the
caller vouches that its codes saw no test interaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sidkit.collab.mine import mine_or_load
from sidkit.content.text_encoder import TextEncoder
from sidkit.data.types import Dataset
from sidkit.downstream.ranking.model import ItemFeatures
from sidkit.downstream.ranking.samples import RankingSamples
from sidkit.downstream.ranking.train import train_and_score
from sidkit.errors import SidkitError
from sidkit.evaluate.auc import ranking_metrics

VARIANTS = {"baseline": (), "ia-rep": ("aligned",), "vq": ("vq",), "rq": ("rq",), "vq+rq": ("vq", "rq"),
            "user": ("user",), "rq+user": ("rq", "user")}
N_GROUPS = 6


@dataclass
class CodeSource:
    name: str
    rq: np.ndarray
    rq_sizes: list[int]
    vq: np.ndarray | None = None
    aligned: np.ndarray | None = None
    user: np.ndarray | None = None      # [n_users, L_u] user SID codes
    user_sizes: list[int] | None = None

    def features(self, variant: str, vq_k: int) -> ItemFeatures:
        parts = VARIANTS[variant]
        for part in parts:
            if getattr(self, part) is None:
                raise SidkitError(f"variant {variant!r} needs {part} from the code source {self.name}, which has none")
        if "vq" in parts and not 1 <= vq_k <= self.vq.shape[1]:
            raise SidkitError(f"vq_k={vq_k}; expected 1..{self.vq.shape[1]} (the code source's VQ length)")
        return ItemFeatures(rq=self.rq if "rq" in parts else None, rq_sizes=self.rq_sizes,
                            vq=self.vq[:, :vq_k] if "vq" in parts else None,
                            aligned=self.aligned if "aligned" in parts else None,
                            user=self.user if "user" in parts else None, user_sizes=self.user_sizes)


def fitted_codes(method: str, samples: RankingSamples, ds: Dataset, x: np.ndarray, encoder: TextEncoder | None, *,
                 levels: int, codebook_size: int, seed: int, params: dict | None = None,
                 cache_dir: str | Path | None = None, cf_input: dict | None = None,
                 finetune: dict | None = None) -> CodeSource:
    """Any method fitted on the training clicks only: its pairs mined from them (through the pair cache
    when ``cache_dir`` holds them), its users' content from profiles or training histories. Whatever
    the method makes beside item codes comes along: VQ codes and the aligned space (qarm), user codes (das).
    ``cf_input`` (CFInput's parameters): the input is content fused with item factors of the training
    clicks, so the held-out cold items get the content-made stand-in. ``finetune``
    (methods/encoder_finetune's options): the text encoder is first fine-tuned on the pairs mined from
    the training clicks, and every item, cold ones included, is embedded again with it."""
    from sidkit.content.user_embeddings import user_embeddings
    from sidkit.methods import make_tokenizer
    from sidkit.workflow import finetuned_embeddings, fit_tokenizer

    tok = make_tokenizer(method, levels=levels, codebook_size=codebook_size, seed=seed, **(params or {}))
    pairs = (mine_or_load(samples.train_clicks, ("u2i", "swing"), seed, cache_dir)[0]
             if tok.needs_pairs or finetune is not None else None)
    if finetune is not None:  # users' profile text, too, goes through the fine-tuned encoder below
        x, _, encoder = finetuned_embeddings(ds, encoder, pairs, finetune, seed)
    if cf_input is not None:
        from sidkit.collab.cf_input import CFInput

        x = CFInput(**{"seed": seed, **cf_input}).fit(samples.train_clicks, x).fitted_input(x)
    user_x = (user_embeddings(ds, samples.train_clicks, x, encoder, tok.user_content, tok.half_life)
              if tok.needs_users else None)
    fit_tokenizer(tok, x, pairs=pairs if tok.needs_pairs else None, interactions=samples.train_clicks,
                  user_x=user_x, progress=False)
    user = getattr(tok, "user_labels_", None)
    return CodeSource(f"{method} (fitted on training clicks)", tok.labels_, tok.codebook_sizes,
                      getattr(tok, "vq_codes_", None), getattr(tok, "aligned_", None), user,
                      tok.user_codebook_sizes if user is not None else None)


def sid_folder_codes(folder: str | Path, item_ids: list[str], user_ids: list[str] | None = None) -> CodeSource:
    from sidkit.sids.table import SemanticIDs

    table = SemanticIDs.read(folder)
    rows = table.rows_of(item_ids, folder)
    vq = None
    if table.vq_codes is not None:  # VQ codes are rows of the SID table: map them to catalogue indices
        to_catalog = np.full(len(table.item_ids), -1)
        to_catalog[rows] = np.arange(len(item_ids))
        vq = to_catalog[table.vq_codes[rows]]
        if (vq < 0).any():
            raise SidkitError(f"{folder}: VQ codes point at items outside the data set's catalogue")
    user = user_sizes = None
    user_file = Path(folder) / "user_sids.parquet" if Path(folder).is_dir() else Path(folder).parent / "user_sids.parquet"
    if user_ids is not None and user_file.is_file():
        users = SemanticIDs.read(user_file)
        user, user_sizes = users.codes[users.rows_of(user_ids, user_file)], list(users.codebook_sizes)
    return CodeSource(str(folder), table.codes[rows], list(table.codebook_sizes), vq, None, user, user_sizes)


def evaluate_scores(samples: RankingSamples, scores: np.ndarray) -> dict:
    """Metrics per task on warm test samples, per popularity group, and on cold-start samples."""
    test = np.flatnonzero(samples.test)
    seen = np.zeros(samples.n_items, bool)
    seen[samples.items[samples.train]] = True
    warm = seen[samples.items[test]]

    def metrics(rows: np.ndarray) -> dict:
        out = {}
        for k, task in enumerate(samples.tasks):
            ok = rows[samples.masks[task][test[rows]]]
            out[task] = ranking_metrics(samples.labels[task][test[ok]], scores[ok, k], samples.users[test[ok]])
        return out

    result = metrics(np.flatnonzero(warm))
    clicks = samples.train_counts()
    warm_items = np.flatnonzero(seen)
    ranked = warm_items[np.argsort(clicks[warm_items], kind="stable")]
    group_of = np.full(samples.n_items, -1)
    result["groups"] = {}
    for g, chunk in enumerate(np.array_split(ranked, N_GROUPS)):
        group_of[chunk] = g
        rows = np.flatnonzero(group_of[samples.items[test]] == g)
        result["groups"][f"g{g + 1}"] = {"train_clicks": [int(clicks[chunk].min()), int(clicks[chunk].max())],
                                         **metrics(rows)}
    result["cold_start"] = metrics(np.flatnonzero(~warm))
    return result


def run_variant(samples: RankingSamples, history: np.ndarray, source: CodeSource | None, variant: str, *,
                dim: int = 32, vq_k: int = 25, item_ids: bool = True, epochs: int = 2, seed: int = 0,
                sid_features: dict | None = None, progress: bool = False) -> dict:
    """``sid_features``: {"scheme", "table_size", "ngram"} (sid_features.py), default per-level."""
    if variant not in VARIANTS:
        raise SidkitError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    features = source.features(variant, vq_k) if source is not None else ItemFeatures()
    features = replace(features, **(sid_features or {}))
    if not item_ids and variant == "baseline":
        raise SidkitError("the ID-free mode needs SID features; expected a variant other than baseline")
    scores = train_and_score(samples, history, features, dim=dim, item_ids=item_ids, epochs=epochs, seed=seed,
                             progress=progress)
    return evaluate_scores(samples, scores)

