"""Plots stay readable at any number of classes: lines or bars per class, or per frequency bin."""

import matplotlib.axes
import matplotlib.image
import numpy as np
import pytest

from autobalance.plots import plot_per_class_accuracy, plot_trajectories


def _records(steps, columns, seed=0):
    rng = np.random.default_rng(seed)
    return [{"step": 5 * i, "offsets": [rng.normal(size=columns).tolist()], "hypergrad_norm": 0.1 + i}
            for i in range(steps)]


@pytest.fixture
def plot_calls(monkeypatch):
    """(axes, kwargs) of every Axes.plot call."""
    calls = []
    original = matplotlib.axes.Axes.plot

    def recording(ax, *args, **kwargs):
        calls.append((ax, kwargs))
        return original(ax, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", recording)
    return calls


@pytest.mark.parametrize(("columns", "lines"), [(15, 15), (1000, 10), (8142, 10)])
def test_trajectory_plot_draws_a_line_per_class_or_per_frequency_bin(tmp_path, plot_calls, columns, lines):
    counts = np.linspace(500, 5, columns).tolist()
    path = plot_trajectories(_records(4, columns), ["offsets"], [f"c{i}" for i in range(columns)], counts,
                             tmp_path / "t.png")
    offsets_panel, norm_panel = plot_calls[0][0], plot_calls[-1][0]
    assert sum(1 for ax, _ in plot_calls if ax is offsets_panel) == lines
    assert offsets_panel.get_xlabel() == "inner step" and offsets_panel.get_ylabel() == "offset"
    assert norm_panel.get_yscale() == "log" and "hypergradient norm" in norm_panel.get_title()
    assert matplotlib.image.imread(path).shape[1] < 2000  # two panels wide, whatever K is


def test_a_single_hyper_step_is_drawn_as_points(tmp_path, plot_calls):
    plot_trajectories(_records(1, 3), ["offsets"], ["a", "b", "c"], [3, 2, 1], tmp_path / "t.png")
    assert plot_calls and all(kwargs.get("marker") == "o" for _, kwargs in plot_calls)


def test_a_group_sensitive_loss_gets_a_row_of_panels_per_attribute_value(tmp_path, plot_calls):
    records = [{"step": 5 * i, "offsets": [[1.5, -1.5], [-1.5 - i, 1.5 + i]], "hypergrad_norm": 0.1} for i in range(3)]
    plot_trajectories(records, ["offsets"], ["top", "other"], [2400, 2400], tmp_path / "t.png")
    titles = {ax.get_title() for ax, _ in plot_calls}
    assert {"learned offsets (attribute 0)", "learned offsets (attribute 1)"} <= titles
    second = next(ax for ax, _ in plot_calls if ax.get_title() == "learned offsets (attribute 1)")
    drawn = [line.get_ydata() for line in second.get_lines()]
    assert [list(y) for y in drawn] == [[-1.5, -2.5, -3.5], [1.5, 2.5, 3.5]]  # the second row's values


def test_per_class_accuracy_plot_bins_a_thousand_classes(tmp_path):
    k = 1000
    counts = np.linspace(500, 5, k).astype(int).tolist()
    accuracy = np.linspace(0.9, 0.1, k).tolist()
    path = plot_per_class_accuracy({"learned loss": accuracy, "CE": accuracy}, [f"c{i}" for i in range(k)],
                                   counts, tmp_path / "a.png")
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width < 2500 and height < 1000
