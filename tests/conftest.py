"""Shared fixtures: real data from ../shared/datasets, the real encoder with a per-session cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SIDKIT_SHARED", ROOT.parent / "shared")) / "datasets"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} not found: tests read the real data sets from ../shared/datasets")
    return SHARED


@pytest.fixture(scope="session", autouse=True)
def _private_default_cache(tmp_path_factory):
    """Commands run without --cache-dir cache embeddings and mined pairs under $SIDKIT_CACHE: a folder of
    this test session, not the user's ~/.cache/sidkit."""
    previous = os.environ.get("SIDKIT_CACHE")
    os.environ["SIDKIT_CACHE"] = str(tmp_path_factory.mktemp("default-cache"))
    yield
    if previous is None:
        os.environ.pop("SIDKIT_CACHE", None)
    else:
        os.environ["SIDKIT_CACHE"] = previous


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="session")
def encoder(cache_dir):
    from sidkit.content import TextEncoder

    return TextEncoder(cache_dir=cache_dir, show_progress=False)


@pytest.fixture(scope="session")
def scientific_titles():
    """The embedded scientific data set with titles only (short texts keep the real encoder fast)."""
    from sidkit.data import load_dataset

    return load_dataset("scientific", template="{title}")


@pytest.fixture(scope="session")
def scientific_prepared(scientific_titles, encoder):
    from sidkit.workflow import prepare

    return prepare(scientific_titles, encoder, seed=0)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


N_FIT = 4000  # lifecycle tests fit on the first 4,000 scientific items; the other 344 are "new uploads"


def fit_part(prep, method: str, out: Path, n: int = N_FIT, **params) -> Path:
    """Fit ``method`` on the first ``n`` items of ``prep`` into ``out``."""
    from sidkit.workflow import fit_to_dir

    fit_to_dir(prep.first(n), method, out, **params)
    return out


@pytest.fixture(scope="session")
def fitted(tmp_path_factory, scientific_prepared) -> Path:
    """rq-kmeans fitted on the first N_FIT items: never modified; tests take a copy (model_dir)."""
    return fit_part(scientific_prepared, "rq-kmeans", tmp_path_factory.mktemp("fit") / "rqk")


@pytest.fixture
def model_dir(fitted, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(fitted, tmp_path / "model_dir"))
