"""Item content embeddings x: text through the encoder plus any given modality, fused.

``content_spec`` records how x was made (template, text model, modalities and their sizes) so that items
added after fitting (``sidkit assign``) get their x the same way: ``embed_like``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from sidkit.content.fusion import fuse_modalities
from sidkit.content.template import render_texts
from sidkit.content.text_encoder import DEFAULT_MODEL, TextEncoder
from sidkit.data.types import Catalog, Dataset
from sidkit.errors import SidkitError, SidkitWarning

if TYPE_CHECKING:
    from sidkit.collab.cf_input import CFInput

# a column (or API field) holding x itself, in the fitted model's input space (for a model fitted with
# --cf-input: the content part, to which the CF stand-in is added)
GIVEN = "embedding"


def item_texts(dataset: Dataset) -> list[str]:
    return render_texts(dataset.text_template, dataset.catalog.text)


def item_embeddings(
    dataset: Dataset,
    encoder: TextEncoder | None = None,
    weights: dict[str, float] | None = None,
    strict: bool = False,
) -> np.ndarray:
    """One row per catalogue item. Text counts as the modality ``text`` when the data set has a template.
    Items whose text renders empty are warned about (refused with ``strict``)."""
    return fuse_modalities(_parts(dataset.catalog, dataset.text_template, encoder, strict), weights)


def _parts(catalog: Catalog, template: str | None, encoder: TextEncoder | None,
           strict: bool = False) -> dict[str, np.ndarray]:
    parts: dict[str, np.ndarray] = dict(catalog.embeddings)
    if template and catalog.text:
        texts = render_texts(template, catalog.text)
        empty = [i for i, t in enumerate(texts) if not t]
        if empty:
            message = (f"{catalog.source}: {len(empty)} of {len(texts)} items have empty text under the template "
                       f"{template!r} (first: item {catalog.item_ids[empty[0]]!r})")
            if strict:
                raise SidkitError(message + "; expected text for every item (--strict)")
            warnings.warn(message + "; they all get the same input", SidkitWarning, stacklevel=2)
        parts["text"] = (encoder or TextEncoder()).encode(texts)
    return parts


def content_spec(dataset: Dataset, encoder: TextEncoder | None, x: np.ndarray,
                 weights: dict[str, float] | None = None) -> dict:
    """How the content embedding ``x`` was made from the catalogue, as JSON for the manifest (a CF input
    adds its own entry ``cf``; ``dim`` stays the content part's)."""
    modalities = {name: int(e.shape[1]) for name, e in dataset.catalog.embeddings.items()}
    if dataset.text_template and dataset.catalog.text:
        modalities["text"] = 0  # its size is the text model's
    return {"template": dataset.text_template if "text" in modalities else None,
            "text_model": (encoder.model if encoder else DEFAULT_MODEL) if "text" in modalities else None,
            "modalities": modalities, "weights": weights or {}, "dim": int(x.shape[1])}


def encoder_for_model(spec: dict | None, model_dir: str | Path, **kwargs) -> TextEncoder:
    """The text encoder a fitted model's items were embedded with: the fine-tuned one saved in the model
    folder (``fit --finetune-encoder``; its vectors cached under its weights' digest), else the named one.
    ``kwargs`` go to TextEncoder (cache_dir, batch_size, show_progress)."""
    tuned = (spec or {}).get("encoder")
    if tuned:
        folder = Path(model_dir) / tuned["folder"]
        if not folder.is_dir():
            raise SidkitError(f"{folder}: missing; expected the fine-tuned text encoder the model was fitted with")
        return TextEncoder(str(folder), cache_name=f"finetuned:{tuned['digest']}", **kwargs)
    return TextEncoder((spec or {}).get("text_model") or DEFAULT_MODEL, **kwargs)


def embed_for_model(catalog: Catalog, spec: dict | None, encoder: Callable[[], TextEncoder],
                    cf: "CFInput | None" = None) -> np.ndarray:
    """x for new items of a fitted model whose manifest recorded ``spec`` (``encoder`` is called only if
    text has to be encoded): what ``sidkit assign`` does in process and in each Ray actor. A model fitted
    with ``--cf-input`` needs its ``cf`` (collab.cf_input.cf_for_model): new items get the cold stand-in."""
    from sidkit.data.embedding_matrix import as_matrix

    if (spec or {}).get("cf"):
        if cf is None:
            raise SidkitError("the model was fitted with --cf-input; expected its CF input (cf_for_model)")
        return cf.new_input(embed_for_model(catalog, {k: v for k, v in spec.items() if k != "cf"}, encoder))

    if spec is None:  # a folder fitted before specs were recorded: only given vectors can be used
        if GIVEN not in catalog.embeddings:
            raise SidkitError(f"{catalog.source}: the model's manifest has no content spec; expected new items "
                              f"as '{GIVEN}' vectors in the model's input space")
        return as_matrix(catalog.embeddings[GIVEN], f"{catalog.source}: field '{GIVEN}'")
    needs_text = "text" in spec["modalities"] and GIVEN not in catalog.embeddings
    return embed_like(catalog, spec, encoder() if needs_text else None)


def embed_like(catalog: Catalog, spec: dict, encoder: TextEncoder | None = None) -> np.ndarray:
    """x for new items, made as ``spec`` says the fitted items' x was.

    Either every fitted modality is there (text fields for the template, embedding columns by name), or
    one column ``embedding`` holds x directly (for a one-modality model, that modality's vector).
    """
    modalities = spec["modalities"]
    given = catalog.embeddings.get(GIVEN) if GIVEN not in modalities else None
    if given is not None:
        if given.shape[1] != spec["dim"]:
            raise SidkitError(f"{catalog.source}: field '{GIVEN}' has {given.shape[1]} dimensions; expected "
                              f"{spec['dim']}, the fitted model's input size")
        return fuse_modalities({"x": given}) if len(modalities) == 1 else given
    for name, dim in modalities.items():
        if name == "text":
            continue
        if name not in catalog.embeddings:
            raise SidkitError(f"{catalog.source}: field '{name}' missing; expected the embedding column the "
                              f"model was fitted with (or '{GIVEN}' with the model's input vector)")
        if catalog.embeddings[name].shape[1] != dim:
            raise SidkitError(f"{catalog.source}: field '{name}' has {catalog.embeddings[name].shape[1]} "
                              f"dimensions; expected {dim}")
    if "text" in modalities and not catalog.text:
        raise SidkitError(f"{catalog.source}: no text fields; expected the fields of the template "
                          f"{spec['template']!r} (or '{GIVEN}' with the model's input vector)")
    parts = _parts(Catalog(catalog.item_ids, catalog.text,
                           {k: v for k, v in catalog.embeddings.items() if k in modalities}, catalog.source),
                   spec["template"] if "text" in modalities else None,
                   encoder or TextEncoder(spec["text_model"] or DEFAULT_MODEL))
    x = fuse_modalities(parts, spec.get("weights") or None)
    if x.shape[1] != spec["dim"]:
        raise SidkitError(f"{catalog.source}: items embed to {x.shape[1]} dimensions; expected {spec['dim']}")
    return x
