import multiprocessing as mp

import numpy as np
import pytest

from autobalance.data.atomic import atomic_path, save_npz


def _write_when_all_are_ready(dest, barrier, value):
    with atomic_path(dest) as tmp:
        np.savez(tmp, x=np.full(4, value))
        barrier.wait(timeout=30)  # every writer holds a finished temporary file before any renames


def test_writers_that_finish_together_each_keep_their_own_temporary_file(tmp_path):
    # Two runs decoding one archive into the shared cache used to write the same ".part" file:
    # the first rename moved it away and the second failed with FileNotFoundError.
    dest = tmp_path / "cache" / "data.npz"
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(3)
    writers = [ctx.Process(target=_write_when_all_are_ready, args=(dest, barrier, v)) for v in range(3)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(timeout=60)
    assert [w.exitcode for w in writers] == [0, 0, 0]
    with np.load(dest) as z:
        assert len(set(z["x"].tolist())) == 1 and z["x"][0] in (0, 1, 2)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["data.npz"]


def test_a_failed_write_leaves_neither_the_file_nor_its_temporary(tmp_path):
    dest = tmp_path / "data.npz"
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(dest) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_save_npz_round_trips(tmp_path):
    save_npz(tmp_path / "a.npz", x=np.arange(3), y=np.ones(2))
    with np.load(tmp_path / "a.npz") as z:
        assert z["x"].tolist() == [0, 1, 2] and z["y"].tolist() == [1.0, 1.0]
