"""The search's starting points: each reads exactly the ``search.family.init_*`` values it names
(the tables compare runs on those alone)."""

import pytest
import torch

from autobalance.losses.factory import SEARCH_STARTS

COUNTS = [100, 20, 5]
VALUES = {"tau": 1.0, "gamma": 0.2, "beta": 0.999}


@pytest.mark.parametrize("start", SEARCH_STARTS.names())
def test_a_search_start_reads_the_values_it_names_and_no_other(start):
    base = SEARCH_STARTS[start](COUNTS, [COUNTS], **VALUES)
    reads = SEARCH_STARTS.metadata(start)["reads"]
    for key, value in VALUES.items():
        moved = SEARCH_STARTS[start](COUNTS, [COUNTS], **{**VALUES, key: value / 2})
        unchanged = all(torch.equal(base[part], moved[part]) for part in base)
        assert unchanged == (key not in reads), (start, key)
