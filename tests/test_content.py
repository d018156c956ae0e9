"""Text template, the real encoder with its cache, modality fusion."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.content import TextEncoder, fuse_modalities, item_embeddings, render_texts
from sidkit.data import Catalog, Dataset, Interactions
from sidkit.errors import SidkitError


def test_template_drops_empty_optional_parts():
    fields = {"title": ["Pump.", "Valve"], "brand": ["Acme", ""]}
    assert render_texts("{title}[. Brand: {brand}]", fields) == ["Pump. Brand: Acme", "Valve"]


def test_template_unknown_field_is_an_error():
    with pytest.raises(SidkitError, match="field 'colour'"):
        render_texts("{title} {colour}", {"title": ["x"]})


def test_template_optional_field_missing_from_the_items_is_empty_with_one_warning():
    from sidkit.errors import SidkitWarning

    with pytest.warns(SidkitWarning, match="brand"):
        assert render_texts("{title}[. Brand: {brand}]", {"title": ["Pump"]}) == ["Pump"]
    with pytest.raises(SidkitError, match="none of its fields"):
        render_texts("[{brand}]", {"title": ["Pump"]})


@pytest.mark.parametrize("template, expected", [
    ("{title!r}", "plain field name"), ("{title:>10}", "plain field name"), ("{0}", "plain field name"),
    ("{title.__class__}", "plain field name"), ("{title", "expected fields as {name}"), ("no field", "names no field"),
])
def test_template_refuses_what_is_not_a_plain_field(template, expected):
    with pytest.raises(SidkitError, match=expected):
        render_texts(template, {"title": ["x"]})


SYNTAX = st.text(alphabet="{}[]!:%$_()'\"abcXY0", max_size=30)  # template syntax, no blanks or dots to fold


@settings(max_examples=200, deadline=None)
@given(SYNTAX, SYNTAX)
def test_item_text_is_copied_never_formatted(title, brand):
    """Braces, format fields and brackets in item text are text (was: KeyError, or evaluated)."""
    got = render_texts("{title}[ by {brand}]", {"title": [title], "brand": [brand]})[0]
    assert got == (title + " by " + brand if brand else title).strip()


def test_item_text_with_template_syntax_is_kept():
    fields = {"title": ["Widget {assorted}", "{title.__class__.__mro__}"], "brand": ["{brand}", ""]}
    assert render_texts("{title}[. Brand: {brand}]", fields) == [
        "Widget {assorted}. Brand: {brand}", "{title.__class__.__mro__}"]


def test_encoder_is_real_and_normalised(encoder):
    v = encoder.encode(["stainless steel staples", "steel staples for a staple gun", "red nail polish"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    # a real sentence model puts the two staple texts closer to each other than to nail polish
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_cache_second_run_encodes_nothing(tmp_path):
    texts = ["digital multimeter", "safety goggles", "digital multimeter"]
    first = TextEncoder(cache_dir=tmp_path, show_progress=False)
    a = first.encode(texts)
    assert first.n_encoded_ == 2  # duplicates are encoded once
    second = TextEncoder(cache_dir=tmp_path, show_progress=False)
    b = second.encode(texts)
    assert second.n_encoded_ == 0
    np.testing.assert_array_equal(a, b)
    third = TextEncoder(cache_dir=tmp_path, show_progress=False)
    c = third.encode(["safety goggles", "soldering iron"])
    assert third.n_encoded_ == 1
    np.testing.assert_array_equal(c[0], a[1])


def test_cached_equals_uncached(tmp_path):
    texts = ["lab beaker 500 ml", "nitrile gloves"]
    cached = TextEncoder(cache_dir=tmp_path, show_progress=False).encode(texts)
    raw = TextEncoder(use_cache=False, show_progress=False).encode(texts)
    np.testing.assert_allclose(cached, raw, atol=1e-6)


def test_fusion_weights_are_shares_of_cosine(rng):
    a = rng.normal(size=(50, 8))
    b = rng.normal(size=(50, 3)) * 100  # a large-norm modality must not dominate
    fused = fuse_modalities({"text": a, "image": b}, {"text": 3.0, "image": 1.0})
    np.testing.assert_allclose(np.linalg.norm(fused, axis=1), 1.0, atol=1e-5)
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    expect = 0.75 * (an @ an.T) + 0.25 * (bn @ bn.T)
    np.testing.assert_allclose(fused @ fused.T, expect, atol=1e-5)


def test_item_embeddings_fuse_text_with_a_second_modality(encoder, rng):
    image = rng.normal(size=(3, 16)).astype(np.float32)
    cat = Catalog(["a", "b", "c"], {"title": ["oscilloscope", "oscilloscope probe", "yoga mat"]}, {"image": image})
    inter = Interactions.from_events(["u", "u"], np.array([0, 1]), 3)
    x = item_embeddings(Dataset("toy", cat, inter, "{title}"), encoder, {"text": 1.0, "image": 1.0})
    assert x.shape == (3, 384 + 16)
    image_part, text_part = x[:, :16], x[:, 16:]  # modalities in name order
    np.testing.assert_allclose(np.linalg.norm(text_part, axis=1), np.sqrt(0.5), atol=1e-4)
    np.testing.assert_allclose(image_part / np.sqrt(0.5), image / np.linalg.norm(image, axis=1, keepdims=True),
                               atol=1e-5)
    assert text_part[0] @ text_part[1] > text_part[0] @ text_part[2]


def test_fusion_rejects_unknown_modality_weight(rng):
    with pytest.raises(SidkitError, match="audio"):
        fuse_modalities({"text": rng.normal(size=(2, 3))}, {"audio": 1.0})
