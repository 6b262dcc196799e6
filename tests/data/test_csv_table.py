"""Tables as ordinary tools write them: compressed, in other encodings and delimiters, with
pandas' index column, missing cells, categorical features and attribute values given by name;
each read as the plain file would be, or refused in one line naming the file."""

import bz2
import gzip
import json
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from autobalance.config import DataConfig
from autobalance.data.build import build_data
from autobalance.data.errors import DataError

WORK = ["Private", "State-gov", "Self-emp"]
ROWS = ["age,workclass,sex,label"] + [
    f"{20 + i},{WORK[i % 3]},{'F' if i % 2 else 'M'},{'>50K' if i % 4 == 0 else '<=50K'}" for i in range(40)]


def _cfg(path, **kw) -> DataConfig:
    return DataConfig(name="csv", path=str(path), profile="none", cache_dir=str(path.parent / "cache"),
                      attribute_column="sex", **kw)


def test_the_readme_csv_example_with_named_attribute_values_and_categorical_features(tmp_path):
    (tmp_path / "adult.csv").write_text("\n".join(ROWS) + "\n")
    data = build_data(_cfg(tmp_path / "adult.csv"), seed=0)
    assert data.input_shape == (4,)  # age, then workclass one-hot in 3 columns
    assert data.summary["attribute_map"] == {"F": 0, "M": 1}
    assert data.summary["feature_encoding"]["categorical_columns"] == {"workclass": ["Private", "Self-emp",
                                                                                      "State-gov"]}
    assert data.num_attribute_values == 2 and data.class_names == ["<=50K", ">50K"]


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".zip"])
def test_a_compressed_table_reads_as_the_plain_one(tmp_path, suffix):
    text = "\n".join(ROWS) + "\n"
    (tmp_path / "plain.csv").write_text(text)
    path = tmp_path / f"packed{suffix}"
    if suffix == ".csv.gz":
        path.write_bytes(gzip.compress(text.encode()))
    elif suffix == ".csv.bz2":
        path.write_bytes(bz2.compress(text.encode()))
    else:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("adult.csv", text)
    plain, packed = build_data(_cfg(tmp_path / "plain.csv"), 0), build_data(_cfg(path), 0)
    assert np.array_equal(plain.train.x.numpy(), packed.train.x.numpy())


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_a_spreadsheet_or_parquet_table_reads_as_the_csv_one(tmp_path, suffix):
    """pandas writes them (with its index column in a spreadsheet, a missing cell as NaN)."""
    pd = pytest.importorskip("pandas")
    (tmp_path / "plain.csv").write_text("\n".join(ROWS) + "\n")
    frame = pd.read_csv(tmp_path / "plain.csv")
    path = tmp_path / f"adult{suffix}"
    frame.to_excel(path) if suffix == ".xlsx" else frame.to_parquet(path)
    plain, other = build_data(_cfg(tmp_path / "plain.csv"), 0), build_data(_cfg(path), 0)
    assert np.array_equal(plain.train.x.numpy(), other.train.x.numpy())
    assert np.array_equal(plain.test.y.numpy(), other.test.y.numpy())
    assert other.summary["attribute_map"] == {"F": 0, "M": 1} and other.class_names == ["<=50K", ">50K"]
    frame.loc[3, "age"] = None
    frame.to_excel(path) if suffix == ".xlsx" else frame.to_parquet(path)
    with pytest.raises(DataError, match=rf"adult\{suffix}, line 5, column 'age'"):
        build_data(_cfg(path), 0)


def test_a_spreadsheet_that_is_not_one_is_named(tmp_path):
    (tmp_path / "broken.xlsx").write_text("not a spreadsheet")
    with pytest.raises(DataError, match=r"broken\.xlsx: cannot read it as \.xlsx"):
        build_data(_cfg(tmp_path / "broken.xlsx"), 0)


def test_a_spreadsheet_export_with_semicolons_latin1_and_an_index_column(tmp_path):
    rows = [";x;caf\u00e9;sex;label"] + [f"{i};{i * 0.5};{i % 3};{'F' if i % 2 else 'M'};{i % 2}" for i in range(30)]
    (tmp_path / "export.csv").write_bytes("\n".join(rows).encode("cp1252"))
    data = build_data(_cfg(tmp_path / "export.csv"), seed=0)
    assert data.input_shape == (2,)  # the index column is dropped; x and café are features


def test_missing_cells_are_named_then_dropped_or_filled_by_the_training_means(tmp_path):
    rows = ["a,b,sex,label"] + [f"{i},{'' if i == 7 else i * 2},{'F' if i % 2 else 'M'},{i % 2}" for i in range(30)]
    (tmp_path / "d.csv").write_text("\n".join(rows))
    with pytest.raises(DataError, match=re.escape("d.csv, line 9, column 'b': a missing value (1 cells in all); "
                                                  "drop those rows (data.missing=drop)")):
        build_data(_cfg(tmp_path / "d.csv", test_fraction=0.2), 0)
    dropped = build_data(_cfg(tmp_path / "d.csv", missing="drop"), 0)
    filled = build_data(_cfg(tmp_path / "d.csv", missing="mean"), 0)
    sizes = [len(d.train) + len(d.val) + len(d.test) for d in (dropped, filled)]
    assert sizes == [29, 30]


def test_an_unseen_category_in_the_test_file_is_zeros_or_refused(tmp_path):
    (tmp_path / "train.csv").write_text("\n".join(ROWS))
    (tmp_path / "test.csv").write_text("\n".join([ROWS[0], "30,Never-worked,F,<=50K", "40,Private,M,>50K"]))
    data = build_data(_cfg(tmp_path / "train.csv", test_path=str(tmp_path / "test.csv")), 0)
    assert data.test.x[0, 1:].abs().sum() == 0 and data.test.x[1, 1:].sum() == 1
    with pytest.raises(DataError, match="test.csv: Found unknown categories"):
        build_data(_cfg(tmp_path / "train.csv", test_path=str(tmp_path / "test.csv"), unknown_category="error"), 0)


def test_a_stray_word_in_a_numeric_column_and_values_beyond_float32_are_named(tmp_path):
    rows = ["a,sex,label"] + [f"{'1e39' if i == 4 else i},{'F' if i % 2 else 'M'},{i % 2}" for i in range(20)]
    (tmp_path / "huge.csv").write_text("\n".join(rows))
    with pytest.raises(DataError, match=re.escape("huge.csv, line 6, column 'a': 1e+39 lies beyond float32's range")):
        build_data(_cfg(tmp_path / "huge.csv"), 0)


def test_features_near_1e30_train_as_their_rescaled_copy_does(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    x = rng.normal(size=(100, 2)) + y[:, None] * 3
    for name, scale in (("small.csv", 1.0), ("huge.csv", 1e30)):
        rows = ["a,b,label"] + [f"{a * scale:.17g},{b * scale:.17g},{t}" for (a, b), t in zip(x, y, strict=True)]
        (tmp_path / name).write_text("\n".join(rows))
    small, huge = (build_data(DataConfig(name="csv", path=str(tmp_path / n), profile="none",
                                         cache_dir=str(tmp_path)), 0) for n in ("small.csv", "huge.csv"))
    np.testing.assert_allclose(huge.transform(huge.train.x).numpy(), small.transform(small.train.x).numpy(),
                               rtol=1e-4, atol=1e-4)


def test_labels_of_shape_n_by_one_and_a_float_test_file_for_uint8_images(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)[:, None]
    x = rng.integers(0, 255, (30, 8, 8, 1)).astype(np.uint8)
    np.savez(tmp_path / "train.npz", x=x, y=y)
    pick = [0, 1, 10, 11, 20, 21]
    np.savez(tmp_path / "test.npz", x=x[pick].astype(np.float64), y=y[pick, 0])
    np.savez(tmp_path / "bad_test.npz", x=x[pick] / 255.0, y=y[pick, 0])
    cfg = DataConfig(name="npz", path=str(tmp_path / "train.npz"), test_path=str(tmp_path / "test.npz"),
                     profile="none", cache_dir=str(tmp_path))
    data = build_data(cfg, 0)
    assert data.test.x.dtype == data.train.x.dtype and data.summary["counts"]["test"] == [2, 2, 2]
    cfg.test_path = str(tmp_path / "bad_test.npz")
    with pytest.raises(DataError, match="bad_test.npz: features of dtype float32 where the training file"):
        build_data(cfg, 0)


@pytest.mark.slow  # a training run in a subprocess
def test_the_cli_trains_on_a_gzipped_categorical_table_and_records_the_encoding(tmp_path, cache_dir):
    (tmp_path / "adult.csv.gz").write_bytes(gzip.compress(("\n".join(ROWS) + "\n").encode()))
    proc = subprocess.run([sys.executable, "-m", "autobalance.train", "data=csv", "data.path=adult.csv.gz",
                           "data.attribute_column=sex", "model=mlp", "search=none", "optim.epochs=1",
                           "data.batch_size=8", f"data.cache_dir={cache_dir}", "logger.progress=false",
                           "hydra.run.dir=run"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "categorical features one-hot: workclass (3 categories)" in proc.stdout
    summary = json.loads((tmp_path / "run" / "data_summary.json").read_text())
    assert summary["attribute_map"] == {"F": 0, "M": 1}
