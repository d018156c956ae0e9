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
