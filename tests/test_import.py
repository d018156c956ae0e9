"""sidkit import / export: SIDs made elsewhere (LC-Rec index JSON, Parquet item_id + codes) become a SID
folder like a fitted one; our own tables round-trip; a bad file is one line naming the row or key."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sidkit.cli import main
from sidkit.errors import SidkitError
from sidkit.sids.table import SemanticIDs


@pytest.fixture(scope="module")
def fitted_whole(tmp_path_factory, scientific_prepared):
    """rq-kmeans on every scientific item (a table of the whole catalogue, as import requires)."""
    from sidkit.workflow import fit_to_dir

    out = tmp_path_factory.mktemp("whole") / "fit"
    fit_to_dir(scientific_prepared, "rq-kmeans", out, levels=3, codebook_size=64, seed=0)
    return out


@pytest.mark.parametrize("suffix", [".json", ".parquet"])
def test_export_then_import_gives_the_same_table(fitted_whole, tmp_path, capsys, suffix):
    exported = tmp_path / f"codes{suffix}"
    assert main(["export", str(fitted_whole), "--out", str(exported)]) == 0
    assert main(["import", str(exported), "--dataset", "scientific", "--out", str(tmp_path / "imp"),
                 "--codebook-sizes", "64,64,64"]) == 0
    ours, back = SemanticIDs.read(fitted_whole), SemanticIDs.read(tmp_path / "imp")
    assert back.item_ids == ours.item_ids
    assert np.array_equal(back.codes, ours.codes) and np.array_equal(back.sid, ours.sid)
    fitted_q = json.loads((fitted_whole / "quality.json").read_text())
    imported_q = json.loads((tmp_path / "imp" / "quality.json").read_text())
    for key in ("collision_rate", "perplexity", "collab_prefix_agreement", "by_clicks"):
        assert imported_q[key] == fitted_q[key], key
    capsys.readouterr()
    assert main(["quality", str(tmp_path / "imp")]) == 0  # the data set is found from the manifest
    assert json.loads(capsys.readouterr().out)["collab_prefix_agreement"] == fitted_q["collab_prefix_agreement"]


def test_an_index_in_another_item_order(fitted_whole, tmp_path):
    ours = SemanticIDs.read(fitted_whole)
    order = np.random.default_rng(0).permutation(len(ours))
    (tmp_path / "order.txt").write_text("\n".join(ours.item_ids[r] for r in order) + "\n")
    index = {str(k): [f"<{'abc'[lvl]}_{c}>" for lvl, c in enumerate(ours.codes[r])] for k, r in enumerate(order)}
    (tmp_path / "index.json").write_text(json.dumps(index))
    assert main(["import", str(tmp_path / "index.json"), "--dataset", "scientific", "--item-order",
                 str(tmp_path / "order.txt"), "--out", str(tmp_path / "imp")]) == 0
    assert np.array_equal(SemanticIDs.read(tmp_path / "imp").codes, ours.codes)


def _index(n: int = 4344) -> dict:
    return {str(k): [f"<a_{k % 7}>", f"<b_{k % 5}>", f"<c_{k % 11}>"] for k in range(n)}


@pytest.mark.parametrize("change, expected", [
    (lambda d: d.update({"5": ["<a_1>", "<c_2>", "<c_3>"]}), "item 5: token '<c_2>' at level 2; expected <b_CODE>"),
    (lambda d: d.update({"9": ["<a_1>", "<b_2>"]}), "item 9: 2 tokens; expected 3"),
    (lambda d: d.update({"99999": ["<a_1>", "<b_2>", "<c_3>"]}), "key '99999'; expected an item row number"),
    (lambda d: d.update({"7": "<a_1><b_2><c_3>"}), "item 7: '<a_1><b_2><c_3>'; expected a list of tokens"),
    (lambda d: d.pop("4343"), "has no SID (1 of 4344 missing)"),
])
def test_a_bad_index_is_one_line_naming_the_item(tmp_path, capsys, change, expected):
    index = _index()
    change(index)
    (tmp_path / "bad.json").write_text(json.dumps(index))
    code = main(["import", str(tmp_path / "bad.json"), "--dataset", "scientific", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_repeated_keys_and_broken_json_are_refused(tmp_path, capsys):
    (tmp_path / "twice.json").write_text('{"0": ["<a_1>"], "0": ["<a_2>"]}')
    (tmp_path / "broken.json").write_text('{"0": ["<a_1>"')
    for name, expected in (("twice.json", "key '0' appears twice"), ("broken.json", "not valid JSON")):
        code = main(["import", str(tmp_path / name), "--dataset", "scientific", "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert code == 2 and expected in err and err.count("\n") == 1, err


@pytest.mark.parametrize("rows, expected", [
    ({"item_id": ["x", "y"], "codes": [[1, 2], [3, 4]]}, "item 'x' is not in the catalogue"),
    ({"item_id": ["a"], "codes": [[1, 2]]}, "missing column"),
    ({"item_id": ["a", "a"], "codes": [[1, 2], [3, 4]]}, "data row 2: item 'a' appears twice"),
    ({"item_id": ["a", "b"], "codes": [[1, 2], [3, -4]]}, "data row 2: field 'codes'"),
    ({"item_id": ["a", "b"], "codes": [[1, 2], [3]]}, "data row 2: field 'codes': 1 codes; expected 2"),
    ({"item_id": ["a", "b"], "codes": [[1, 2], None]}, "data row 2: field 'codes': None; expected a list"),
    ({"item_id": ["a", "b", "c"], "codes": [[1, 2], [3, 4], [5, None]]}, "data row 3: field 'codes': [5, None]; expected"),
    ({"item_id": ["a", ""], "codes": [[1, 2], [3, 4]]}, "data row 2: field 'item_id': empty id"),
    ({"item_id": ["a", "b"], "codes": [[1.0, 2.0], [3.0, 4.5]]}, "data row 1: field 'codes': [1.0, 2.0]; expected a list"),
    ({"item_id": pa.array([], pa.string()), "codes": pa.array([], pa.list_(pa.int64()))}, "no rows; expected item_id"),
])
def test_a_bad_parquet_table_is_one_line_naming_the_row(tmp_path, capsys, rows, expected):
    if "missing column" in expected:
        rows = {"item_id": rows["item_id"], "sid": rows["codes"]}
    pq.write_table(pa.table(rows), tmp_path / "bad.parquet")
    code = main(["import", str(tmp_path / "bad.parquet"), "--dataset", "scientific", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_codes_beyond_the_given_codebook_sizes_are_refused(tmp_path, capsys):
    (tmp_path / "index.json").write_text(json.dumps(_index()))
    code = main(["import", str(tmp_path / "index.json"), "--dataset", "scientific", "--codebook-sizes", "7,5,8",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "code 8 at level 3; expected 0 to 7 (--codebook-sizes)" in err, err


def test_a_damaged_sid_table_names_the_row_as_an_import_does(tmp_path):
    """sidkit's own tables and imported ones go through one reader: the same fault, the same row named."""
    SemanticIDs(["a", "b", "c"], np.array([[0, 1], [1, 0], [1, 1]]), [2, 2]).write(tmp_path / "t")
    pq.write_table(pa.table({"item_id": ["a", "b", "a"], "codes": [[0, 1], [1, 0], [1, 1]],
                             "sid": [[0, 1, 0], [1, 0, 0], [1, 1, 0]]}), tmp_path / "t" / "sids.parquet")
    with pytest.raises(SidkitError, match=r"sids.parquet: data row 3: item 'a' appears twice"):
        SemanticIDs.read(tmp_path / "t")
