"""scripts/guard_replay.py on run directories holding hyper-step traces: a search whose objective
climbs slowly is caught at the hyper-step the guard would have caught it, each fold on its own."""

import importlib.util
import json
from pathlib import Path

import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "guard_replay.py"
spec = importlib.util.spec_from_file_location("guard_replay", SCRIPT)
guard_replay = importlib.util.module_from_spec(spec)
spec.loader.exec_module(guard_replay)


def _search_run(root: Path, name: str, seed: int, records: list[dict]) -> None:
    d = root / name
    d.mkdir(parents=True)
    cfg = {"data": {"rho": 100.0}, "loss": {"name": "ce"},
           "search": {"enabled": True, "hypergrad": {"method": "last_layer"}, "family": {"learn": ["offsets"]}}}
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    (d / "metrics.json").write_text(json.dumps({"dataset": "toy", "seed": seed, "test": {"balanced_error": 10.0}}))
    (d / "hypersteps.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")


def test_a_slow_climb_is_caught_and_a_noisy_descent_and_a_new_fold_are_not(tmp_path):
    climbing = [{"val_loss": 1.02 ** i} for i in range(60)]
    noisy = [{"val_loss": 2.0 - 0.01 * i + 0.5 * (i % 2)} for i in range(60)]
    two_folds = [{"fold": f, "val_loss": 1.0 + f + 0.001 * i} for f in (0, 1) for i in range(30)]  # fold 1: higher
    for seed, records in enumerate((climbing, noisy, two_folds)):
        _search_run(tmp_path, f"s{seed}", seed, records)
    rows = guard_replay.replay([(tmp_path, str(tmp_path))], window=20, rise=0.5, drawdown=0.75)
    by_seed = {(r["seed"], r["fold"]): r for r in rows}
    assert len(rows) == 4 and by_seed[(2, 1)]["first_backoff"] is None and by_seed[(1, 0)]["first_backoff"] is None
    caught = by_seed[(0, 0)]
    assert caught["first_backoff"] == guard_replay.first_backoff([r["val_loss"] for r in climbing], window=20,
                                                                 rise=0.5, drawdown=0.75)[0]
    assert 30 < caught["first_backoff"] < 60 and "lowest" in caught["reason"]
    assert guard_replay.first_backoff([r["val_loss"] for r in climbing], window=20, rise=0.5,
                                      drawdown=float("inf")) is None  # the neighbouring halves never 50 % apart
    lines = guard_replay.markdown(rows, {"window": 20})
    assert "4 searches replayed; 1 would back off." in lines
