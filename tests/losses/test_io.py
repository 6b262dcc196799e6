from pathlib import Path

import pytest
import torch
import yaml

from autobalance.losses import ParametricLoss, load_loss, save_loss
from autobalance.losses.factory import build_loss, loss_config


def test_learned_loss_round_trips_through_a_readable_file(tmp_path):
    loss = ParametricLoss(3, learn=("scales", "offsets", "weights"), scales=[1.0, 0.8, 0.5],
                          offsets=[0.2, 0.0, -0.2], weights=[1.0, 2.0, 3.0])
    path = save_loss(tmp_path / "learned_loss.yaml", loss, ["a", "b", "c"], [100, 10, 1],
                     {"seed": 0})
    data = yaml.safe_load(path.read_text())
    assert data["class_names"] == ["a", "b", "c"] and data["train_counts"] == [100, 10, 1]
    assert data["scales"][0] == pytest.approx([1.0, 0.8, 0.5])
    loaded = build_loss(loss_config("learned", path=str(path)), [100, 10, 1])
    z, y = torch.randn(9, 3), torch.arange(3).repeat(3)
    torch.testing.assert_close(loaded(z, y), loss(z, y), atol=1e-5, rtol=1e-5)
    assert list(loaded.parameters()) == []


def test_loading_a_loss_for_another_class_count_fails(tmp_path):
    path = save_loss(tmp_path / "l.yaml", ParametricLoss(3), ["a", "b", "c"], [3, 2, 1])
    with pytest.raises(ValueError, match="3 classes but the data has 10"):
        load_loss(path, num_classes=10)
    (tmp_path / "other.yaml").write_text("foo: 1\n")
    with pytest.raises(ValueError, match="not a learned-loss file"):
        load_loss(tmp_path / "other.yaml")


def test_an_inaturalist_sized_clustered_loss_round_trips_per_class(tmp_path):
    from autobalance.losses.factory import build_search_loss

    k = 8142
    counts = torch.randint(2, 1000, (k,), generator=torch.Generator().manual_seed(0)).tolist()
    loss = build_search_loss(["scales", "offsets"], "vs", counts, cluster_size=100)
    assert loss.raw_offsets.shape == (1, 82)  # ceil(8142 / 100) learnable values per part
    assert {part: t.shape for part, t in loss.learned_values().items()} == {"scales": (1, 82), "offsets": (1, 82)}
    names = [f"species_{i}" for i in range(k)]
    path = save_loss(tmp_path / "learned_loss.yaml", loss, names, counts)
    loaded = load_loss(path, num_classes=k)
    for part, table in loss.values().items():
        torch.testing.assert_close(loaded.values()[part], table, atol=1e-5, rtol=1e-5)


def test_files_written_before_the_vocabulary_rename_still_load(tmp_path):
    """They name the attribute values' count ``num_groups``: the main job's committed file, and a new
    file written the old way."""
    committed = Path(__file__).resolve().parents[2] / "experiments" / "main_job" / "learned_loss.yaml"
    assert "num_groups" in yaml.safe_load(committed.read_text())
    assert load_loss(committed, num_classes=10).num_attribute_values == 1
    loss = ParametricLoss(3, 2, learn=("offsets",), offsets=[[0.2, 0.0, -0.2], [0.1, 0.0, -0.1]])
    data = yaml.safe_load(save_loss(tmp_path / "new.yaml", loss, ["a", "b", "c"], [3, 2, 1]).read_text())
    data["num_groups"] = data.pop("num_attribute_values")
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(data))
    old = load_loss(tmp_path / "old.yaml")
    assert old.num_attribute_values == 2
    torch.testing.assert_close(old.values()["offsets"], loss.values()["offsets"], atol=1e-6, rtol=0)
