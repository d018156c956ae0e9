"""TIGER's speed-ups must not change its answers: length-sorted, trimmed batches and the decoder that
shares one memory among a query's beams give what an unbatched, untrimmed run gives."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.downstream.generative.beam_decoder import BeamDecoder
from sidkit.downstream.generative.length_batches import length_batches


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=300), st.integers(1, 64), st.integers(0, 2**16))
def test_length_batches_cover_every_example_once_grouped_by_length(lengths, batch_size, seed):
    lengths = np.array(lengths)
    batches = length_batches(lengths, batch_size, np.random.default_rng(seed))
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    assert all(1 <= len(b) <= batch_size for b in batches)
    by_length = sorted(batches, key=lambda b: (lengths[b].min(), lengths[b].max()))
    for a, b in zip(by_length, by_length[1:]):  # batches are slices of the length order: no interleaving
        assert lengths[a].max() <= lengths[b].min()
    again = length_batches(lengths, batch_size, np.random.default_rng(seed))
    assert all((x == y).all() for x, y in zip(batches, again))


def test_beam_decoder_equals_decoding_each_beam_on_its_own_memory():
    torch.manual_seed(0)
    dec = BeamDecoder(d=16, heads=2, ff=32, dropout=0.1, layers=2).eval()
    q, beam, t, s = 3, 4, 3, 5
    x, memory = torch.randn(q, beam, t, 16), torch.randn(q, s, 16)
    pad = torch.zeros(q, s, dtype=torch.bool)
    pad[0, :2] = True  # one query's memory is partly padding
    together = dec(x, memory, pad)
    for i in range(q):
        for b in range(beam):
            alone = dec(x[i:i + 1, b:b + 1], memory[i:i + 1, ~pad[i]], pad[i:i + 1, ~pad[i]])
            torch.testing.assert_close(together[i, b], alone[0, 0], atol=1e-5, rtol=1e-5)
    # causal: a later decoder token never changes an earlier one's state
    changed = x.clone()
    changed[:, :, -1] += 1.0
    torch.testing.assert_close(dec(changed, memory, pad)[:, :, :-1], together[:, :, :-1])


@pytest.mark.parametrize("encoder_input", ["items", "tokens"])
def test_tiger_answers_do_not_depend_on_batch_composition(encoder_input):
    from sidkit.data.types import Interactions
    from sidkit.downstream.generative.split import sequence_split
    from sidkit.downstream.generative.tiger import Tiger
    from sidkit.sids.disambiguate import with_disambiguation

    rng = np.random.default_rng(3)
    users, items = [], []
    for u in range(60):  # histories of very different lengths, so batches trim differently
        n = int(rng.integers(3, 16))
        users += [f"u{u}"] * n
        items += rng.integers(0, 40, size=n).tolist()
    split = sequence_split(Interactions.from_events(users, np.array(items), 40), max_len=12)
    sid = with_disambiguation(np.random.default_rng(4).integers(0, 5, size=(40, 2)))
    model = Tiger("small", seed=0, d_model=16, heads=2, ff=32, encoder_layers=1, decoder_layers=1, epochs=1,
                  max_len=12, user_buckets=7, beam=10, encoder_input=encoder_input, warmup_steps=5).fit(split, sid)
    whole, s_whole = model.recommend(split.test, 10, batch_size=256, with_scores=True)
    one_by_one, s_one = model.recommend(split.test, 10, batch_size=1, with_scores=True)
    assert ((whole >= 0) & (whole < 40)).all()
    # Batching may change float rounding (other matrix shapes, other kernels), never the answer: scores
    # agree to rounding, and the items agree wherever their scores are not a near-tie. A one-epoch model
    # is near-uniform, so near-ties are common, and which of two tied items comes first is not an answer.
    np.testing.assert_allclose(s_whole, s_one, atol=1e-4)
    assert_same_ranking_up_to_ties(whole, s_whole, one_by_one, tol=1e-4)


def assert_same_ranking_up_to_ties(a: np.ndarray, scores: np.ndarray, b: np.ndarray, tol: float) -> None:
    """Rows of ``a`` and ``b`` hold the same items, position by position, except that items whose scores
    lie within ``tol`` of each other (a run of near-ties) may come in any order inside their run."""
    for row in range(len(a)):
        s, start = scores[row], 0
        for end in range(1, len(s) + 1):
            if end == len(s) or abs(s[end] - s[end - 1]) > tol:
                assert set(a[row, start:end]) == set(b[row, start:end]), (row, a[row], b[row], s)
                start = end


@pytest.mark.parametrize("encoder_input", ["items", "tokens"])
def test_every_tokenizer_gets_the_same_tiger_under_one_seed(encoder_input):
    """Tokenizers with different codebooks (sizes, depth) get the same transformer weights and leave the
    random stream where the dropout masks start in the same place, so their TIGER runs differ by the
    tokenizer only."""
    from sidkit.downstream.generative.tiger import CONFIGS, TigerNet

    cfg = replace(CONFIGS["small"], d_model=16, heads=2, ff=32, encoder_input=encoder_input)
    nets, after = [], []
    for sizes in ([8, 8, 3], [16, 4, 2, 5]):
        torch.manual_seed(7)
        nets.append(TigerNet(sizes, cfg))
        after.append(torch.rand(4))
    for name in ("encoder", "decoder"):
        a, b = (getattr(n, name).state_dict() for n in nets)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(after[0], after[1])
    torch.manual_seed(8)  # another seed is another network
    other = TigerNet([8, 8, 3], cfg)
    assert not torch.equal(other.encoder.layers[0].linear1.weight, nets[0].encoder.layers[0].linear1.weight)
