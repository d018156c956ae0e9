"""Adding to sidkit: a tokenizer or an objective defined in one file (here, this test file) is found by the
registry, the command line, assign and quality with no other edit; parameters follow scikit-learn's
contract, so every method gets the same checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sidkit.cli import main
from sidkit.errors import SidkitError
from sidkit.methods import METHODS, Tokenizer, clone, load_tokenizer, make_tokenizer
from sidkit.methods.base import is_fitted
from sidkit.params import params_of
from sidkit.quantize.residual import residual_walk
from sidkit.quantize.residual_kmeans import ResidualKMeans
from sidkit.quantize.residual_vq import ResidualVQ
from sidkit.training.early_stopping import EarlyStopping


def make_sign_hash():
    """A real, if simple, tokenizer: each level hashes the item by the signs of ``bits`` seeded random
    projections of its (optionally centred) embedding; codebook size 2**bits."""

    class SignHash(Tokenizer):
        method = "sign-hash"
        constraints = {"codebook_size": lambda k: None if k >= 2 and k & (k - 1) == 0 else "a power of two ≥ 2"}

        def __init__(self, levels: int = 2, codebook_size: int = 4, center: bool = True, seed: int = 0) -> None:
            self.levels = levels
            self.codebook_size = codebook_size
            self.center = center
            self.seed = seed

        def fit(self, x, pairs=None):
            bits = int(np.log2(self.codebook_size))
            rng = np.random.default_rng(self.seed)
            self.mean_ = x.mean(0) if self.center else np.zeros(x.shape[1], dtype=np.float32)
            self.planes_ = rng.normal(size=(self.levels, x.shape[1], bits)).astype(np.float32)
            self.labels_ = self.encode(x)
            return self

        def encode(self, x):
            signs = np.einsum("nd,ldb->nlb", x - self.mean_, self.planes_) > 0
            return (signs * (1 << np.arange(signs.shape[2]))).sum(-1).astype(np.int64)

        def _tensors(self):
            return {"mean": self.mean_.astype(np.float32), "planes": self.planes_}

        def _restore(self, tensors):
            self.mean_, self.planes_ = tensors["mean"], tensors["planes"]

    return SignHash


@pytest.fixture
def sign_hash():
    cls = make_sign_hash()
    yield cls
    METHODS.pop("sign-hash")  # the class registered itself when it was defined; other tests see the usual set


def test_a_tokenizer_defined_elsewhere_is_fitted_assigned_and_served_by_the_cli(sign_hash, tmp_path, capsys):
    from test_cli import write_interactions, write_items

    items, inter = write_items(tmp_path / "items.csv", n=60), write_interactions(tmp_path / "inter.csv", n_items=60)
    out = tmp_path / "toy"
    code = main(["fit", "sign-hash", "--items", str(items), "--interactions", str(inter), "--out", str(out),
                 "--levels", "3", "--codebook-size", "8", "--no-center", "--seed", "4"])
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["method"] == "sign-hash" and manifest["params"] == {"levels": 3, "codebook_size": 8,
                                                                       "center": False, "seed": 4}
    quality = json.loads(capsys.readouterr().out)
    assert quality["n_items"] == 60 and len(quality["perplexity"]) == 3

    model = load_tokenizer(out / "model")
    assert isinstance(model, sign_hash) and model.center is False
    new = tmp_path / "new.csv"
    x_new = np.random.default_rng(1).normal(size=(5, 8)).round(4)
    new.write_text("item_id,embedding\n" + "".join(f'n{k},"{json.dumps(v.tolist())}"\n' for k, v in enumerate(x_new)))
    assert main(["assign", str(out), "--items", str(new)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["new"] == 5
    from sidkit.sids import SemanticIDs

    table = SemanticIDs.read(out)
    np.testing.assert_array_equal(table.codes[-5:], model.encode(x_new.astype(np.float32)))
    assert main(["quality", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["n_items"] == 65

    with pytest.raises(SystemExit):
        main(["fit", "sign-hash", "--help"])
    assert "--no-center" in capsys.readouterr().out
    # a tokenizer that cannot list candidates says so for reassign, in one line
    newer = tmp_path / "newer.csv"
    newer.write_text(new.read_text().replace("n0,", "m0,"))
    code = main(["assign", str(out), "--items", str(newer), "--collisions", "reassign"])
    err = capsys.readouterr().err
    assert code == 2 and "sign-hash cannot list last-level candidates" in err and err.count("\n") == 1


def test_a_constraint_declared_by_the_class_is_checked_everywhere(sign_hash, tmp_path, capsys):
    with pytest.raises(SidkitError, match="parameter levels=0: expected at least 1"):  # inherited from Tokenizer
        make_tokenizer("sign-hash", levels=0)
    with pytest.raises(SidkitError, match="parameter codebook_size=6: expected a power of two"):
        make_tokenizer("sign-hash", codebook_size=6)
    with pytest.raises(SidkitError, match='parameter center="no": expected bool'):
        make_tokenizer("sign-hash", center="no")
    code = main(["fit", "sign-hash", "--dataset", "scientific", "--out", str(tmp_path / "o"), "--param",
                 "center=2"])
    err = capsys.readouterr().err
    assert code == 2 and "center=2: expected bool" in err and err.count("\n") == 1


def test_an_objective_defined_elsewhere_plugs_into_rqvae():
    from sidkit.methods import RQVAE
    from sidkit.objectives import OBJECTIVES, Objective

    class CodeSpread(Objective):
        """Pulls z towards zero mean: a small real term, enough to see it reach the loss and the log."""

        name = "code-spread"

        def __init__(self, weight: float = 0.5) -> None:
            self.weight = weight

        def __call__(self, batch, z, z_q, codes, step):
            return {"code_spread": self.weight * z.mean(0).pow(2).sum()}

    try:
        x = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
        tok = RQVAE(levels=2, codebook_size=8, hidden=(32,), dim=8, steps=5, batch_size=64,
                    objectives=["code-spread"], objective_params={"code-spread": {"weight": 0.25}}).fit(x, progress=False)
        assert all("code_spread" in e for e in tok.training_log_)
        assert tok.build_objectives()[0].weight == 0.25
        with pytest.raises(SidkitError, match="objective 'code-spread': parameter weight=\"x\": expected float"):
            RQVAE(objectives=["code-spread"], objective_params={"code-spread": {"weight": "x"}}).build_objectives()
    finally:
        OBJECTIVES.pop("code-spread")


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_follows_the_estimator_contract(method):
    cls = METHODS[method]
    tok = cls()
    params = tok.get_params()
    assert list(params) == list(params_of(cls))
    assert cls(**params).get_params() == params  # the constructor takes back what get_params gives
    other = clone(tok.set_params(seed=7))
    assert other is not tok and other.get_params() == {**params, "seed": 7} and not is_fitted(other)
    with pytest.raises(SidkitError, match=f"{method}: encode before fit"):
        tok.encode(np.zeros((2, 4), dtype=np.float32))
    with pytest.raises(SidkitError, match=f"{method} has no parameter 'nope'"):
        tok.set_params(nope=1)


def test_the_residual_walk_is_the_same_in_numpy_and_torch():
    """On vectors built from one codeword per level, with levels on scales 100, 10, 1, the nearest
    codeword at each level is unambiguous: both quantizers must recover the codes, and decode the sum."""
    rng = np.random.default_rng(0)
    levels, k, d = 3, 6, 8
    books = np.stack([s * np.eye(k, d) for s in (100.0, 10.0, 1.0)]).astype(np.float32)
    codes = rng.integers(0, k, size=(50, levels))
    x = sum(books[level][codes[:, level]] for level in range(levels)).astype(np.float32)

    rkm = ResidualKMeans(levels, k).restore(books)
    np.testing.assert_array_equal(rkm.encode(x), codes)
    np.testing.assert_allclose(rkm.decode(codes), x)
    rvq = ResidualVQ(levels, k, d)
    with torch.no_grad():
        rvq.codebooks.copy_(torch.from_numpy(books))
    np.testing.assert_array_equal(rvq.encode(torch.from_numpy(x)).numpy(), codes)
    for quantizer, xs in ((rkm, x), (rvq, torch.from_numpy(x))):
        got, cand = quantizer.candidates(xs, 3)
        np.testing.assert_array_equal(np.asarray(got), codes)
        assert (np.asarray(cand)[:, 0] == codes[:, -1]).all()
    walk = residual_walk(x, list(books), lambda r, c, _: np.argmin(((r[:, None] - c) ** 2).sum(-1), 1), keep_inputs=True)
    np.testing.assert_allclose(walk.residual, 0, atol=1e-4)
    assert len(walk.inputs) == levels and walk.inputs[0] is x


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience():
    net = torch.nn.Linear(1, 1, bias=False)
    stopping = EarlyStopping(net, patience=2, mode="min", min_delta=0.01)
    losses = [1.0, 0.5, 0.495, 0.6, 0.4]  # 0.495 is not better by more than min_delta
    stopped = []
    for epoch, loss in enumerate(losses):
        with torch.no_grad():
            net.weight.fill_(epoch)
        stopped.append(stopping.update(epoch, loss, loss=loss))
    assert stopped == [False, False, False, True, False]
    stopping.restore()
    assert net.weight.item() == 4.0 and stopping.history[-1] == {"epoch": 5, "loss": 0.4}
    again = EarlyStopping(net, patience=1, mode="max", epochs=5, every=2)
    assert [again.due(e) for e in range(5)] == [False, True, False, True, True]
