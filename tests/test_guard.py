"""The guard against a search that climbs its own validation objective."""

import json
import math

import pytest
import yaml

from autobalance.guard import ObjectiveGuard


def test_noise_like_a_behaving_searchs_never_backs_off():
    guard = ObjectiveGuard(window=8)  # rise 50 %, climb 25 %
    values = [3.0 - 0.01 * i + 0.6 * (i % 2) for i in range(40)]  # 20 % swings between hyper-steps
    assert all(guard.observe(v) == 1.0 for v in values)
    assert guard.backoffs == 0 and guard.climbed() is None


def test_a_rise_backs_off_in_proportion_and_compares_afresh_after():
    guard = ObjectiveGuard(window=4, rise=0.5, backoff=0.5)
    assert [guard.observe(v) for v in (2.0, 2.0, 2.0)] == [1.0] * 3  # a full window first
    assert guard.observe(5.0) == pytest.approx(0.5 * 2.0 / 3.5)  # (2, 2) against (2, 5): 75 % up
    assert guard.compared == 4 and guard.backoffs == 1
    assert [guard.observe(v) for v in (9.0, 9.0, 9.0)] == [1.0] * 3  # too few since the back-off
    assert guard.climbed() == (2.0, 9.0, 2)


def test_a_slow_steady_climb_backs_off_from_its_lowest_half_window():
    guard = ObjectiveGuard(window=20)  # drawdown 75 %
    values = [1.02 ** i for i in range(60)]  # 2 % a hyper-step: never 50 % between neighbouring halves
    first = next(i for i, v in enumerate(values) if guard.observe(v) < 1.0)
    assert guard.backoffs == 1 and "lowest" in guard.reason
    assert guard.best_at == 10  # the lowest half-window: the first ten values
    assert 1.02 ** (first - 4.5) > 1.75 * 1.02 ** 4.5 > 1.02 ** (first - 5.5)  # the first half-window above 1.75x


def test_a_search_that_comes_back_down_is_not_said_to_have_climbed():
    guard = ObjectiveGuard(window=4)
    for v in (2.0, 2.0, 40.0, 200.0, 1.0, 1.0):
        guard.observe(v)
    assert guard.backoffs == 1 and guard.climbed() is None


def test_a_non_finite_objective_backs_off_at_once():
    guard = ObjectiveGuard(window=20)
    assert guard.observe(1.0) == 1.0
    assert guard.observe(math.nan) == pytest.approx(0.5 * 1e-6)
    assert guard.climbed() is None  # two values: too few to judge the whole search


def test_a_runaway_search_backs_off_and_exports_its_start(search_config, tmp_path):
    from autobalance.pipeline import run

    search_config.search.outer.lr = 1e6
    search_config.search.outer.clip = None
    search_config.search.every = 2
    search_config.search.guard.window = 6
    with pytest.warns(RuntimeWarning, match="exporting the loss it started from"):
        result = run(search_config, tmp_path / "run")
    assert result["exported_start"] == [True] and result["guard_backoffs"] >= 1
    records = [json.loads(line) for line in (tmp_path / "run" / "hypersteps.jsonl").read_text().splitlines()]
    assert max(abs(v) for v in records[-1]["offsets"][0]) > 1e3  # it did run away
    backed_off = [r for r in records if "backed_off_to_lr" in r]
    assert any(r["returned_to"] is not None for r in backed_off)
    for r in backed_off:  # each back-off returns to the loss after the hyper-step its lowest half-window ended at
        if r["returned_to"] is not None:
            assert r["offsets"] == next(q["offsets"] for q in records if q["hyper_step"] == r["returned_to"])
    learned = yaml.safe_load((tmp_path / "run" / "learned_loss.yaml").read_text())
    assert max(abs(v) for v in learned["offsets"][0]) < 5  # LA's log-prior offsets, where it started


def test_a_search_shorter_than_the_guards_window_is_watched_with_a_window_that_fits(search_config, tmp_path):
    from autobalance.pipeline import run

    search_config.search.outer.lr = 1e6  # the absurd outer lr, the standard window of 20
    search_config.search.outer.clip = None
    search_config.search.every = 2
    with pytest.warns(RuntimeWarning, match="exporting the loss it started from"):
        result = run(search_config, tmp_path / "run")
    assert result["hyper_steps"] < search_config.search.guard.window
    assert result["exported_start"] == [True]
    learned = yaml.safe_load((tmp_path / "run" / "learned_loss.yaml").read_text())
    assert max(abs(v) for v in learned["offsets"][0]) < 5


def test_a_resumed_guard_backs_off_where_the_uninterrupted_one_does():
    values = [1.02 ** i for i in range(60)]
    whole, first = ObjectiveGuard(window=20), ObjectiveGuard(window=20)
    expected = [whole.observe(v) for v in values]
    got = [first.observe(v) for v in values[:25]]
    resumed = ObjectiveGuard(window=20)
    resumed.load_state_dict(first.state_dict())
    got += [resumed.observe(v) for v in values[25:]]
    assert got == expected and min(expected) < 1.0 and resumed.best_at == whole.best_at
