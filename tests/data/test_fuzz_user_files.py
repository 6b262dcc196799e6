"""Property tests: tables and arrays of random shapes, dtypes, encodings, delimiters, compressions,
missing cells and class counts either train with their class counts intact or are refused in one
line naming the file (an InputError, never a traceback of another kind). A bounded number of
examples in the fast tier; ``pytest -m slow`` runs more."""

import bz2
import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autobalance.config import DataConfig
from autobalance.data.build import build_data
from autobalance.errors import InputError

FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MORE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def tables(draw):
    k = draw(st.integers(2, 4))
    counts = draw(st.lists(st.integers(4, 12), min_size=k, max_size=k))
    named = draw(st.booleans())
    labels = [f"class{c}" if named else str(c) for c, n in enumerate(counts) for _ in range(n)]
    numeric = draw(st.integers(0, 3))
    categorical = draw(st.booleans()) or numeric == 0
    holes = draw(st.floats(0, 0.1))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    columns = [f"x{i}" for i in range(numeric)] + (["kind"] if categorical else []) + ["label"]
    rows = []
    for label in labels:
        cells = [("" if rng.random() < holes else f"{rng.normal() * 10.0 ** rng.integers(-3, 4):.6g}")
                 for _ in range(numeric)]
        if categorical:
            cells.append(["red", "green", "blue"][rng.integers(0, 3)])
        rows.append(cells + [label])
    return {"columns": columns, "rows": rows, "counts": counts, "named": named,
            "delimiter": draw(st.sampled_from([",", ";", "\t"])),
            "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"])),
            "compression": draw(st.sampled_from(["", ".gz", ".bz2"])),
            "missing": draw(st.sampled_from(["error", "mean"]))}


def _write(table, folder):
    text = "\n".join(table["delimiter"].join(r) for r in [table["columns"], *table["rows"]]) + "\n"
    raw = text.encode(table["encoding"])
    path = folder / f"table.csv{table['compression']}"
    path.write_bytes({"": raw, ".gz": gzip.compress(raw), ".bz2": bz2.compress(raw)}[table["compression"]])
    return path


def _check(table, folder):
    path = _write(table, folder)
    cfg = DataConfig(name="csv", path=str(path), profile="none", missing=table["missing"], test_fraction=0.25,
                     cache_dir=str(folder / "cache"))
    try:
        data = build_data(cfg, seed=0)
    except InputError as e:
        message = str(e)
        assert "\n" not in message and str(path.name) in message
        return
    counts = data.summary["counts"]
    kept = [sum(c) for c in zip(counts["train"], counts["val"], counts["test"], strict=True)]
    assert kept == table["counts"]  # every row kept, in its class
    assert np.isfinite(data.train.x.numpy()).all()


@FAST
@given(table=tables())
def test_random_tables_train_with_their_counts_or_are_refused_in_one_line(table, tmp_path_factory):
    _check(table, tmp_path_factory.mktemp("fuzz"))


@pytest.mark.slow
@MORE
@given(table=tables())
def test_many_random_tables_train_with_their_counts_or_are_refused_in_one_line(table, tmp_path_factory):
    _check(table, tmp_path_factory.mktemp("fuzz"))


@FAST
@given(n=st.integers(6, 30), rank=st.integers(1, 3), dtype=st.sampled_from(["float32", "float64", "int64", "uint8"]),
       label_shape=st.sampled_from(["flat", "column", "strings"]), seed=st.integers(0, 1000))
def test_random_arrays_train_or_are_refused_in_one_line(n, rank, dtype, label_shape, seed, tmp_path_factory):
    folder = tmp_path_factory.mktemp("npz")
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 255, (n, *([4] * rank))) if dtype in ("uint8", "int64") else rng.normal(size=(n, *[4] * rank)))
    y = np.arange(n) % 2
    labels = {"flat": y, "column": y[:, None], "strings": np.array(["a", "b"])[y]}[label_shape]
    np.savez(folder / "d.npz", x=x.astype(dtype), y=labels)
    try:
        data = build_data(DataConfig(name="npz", path=str(folder / "d.npz"), profile="none", test_fraction=0.25,
                                     cache_dir=str(folder)), seed=0)
    except InputError as e:
        assert "\n" not in str(e) and "d.npz" in str(e)
        return
    counts = data.summary["counts"]
    assert [sum(c) for c in zip(counts["train"], counts["val"], counts["test"], strict=True)] == [
        int((y == 0).sum()), int((y == 1).sum())]
