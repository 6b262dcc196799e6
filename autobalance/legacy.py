"""Old archives through one door: everything earlier versions wrote, read into today's form. This
module is the only one that knows old names; the rest of the package reads today's.

- Run configurations (``config.yaml`` of a run, the command line): keys renamed since
  (:data:`RENAMED_KEYS`), keys added since (:data:`ADDED_KEYS`, with the value that reproduces how
  older runs ran), and the nulls that runs saved before each loss owned its settings.
- Learned-loss files of formats v1 and v2, and files that name the number of attribute values
  ``num_groups`` (before the vocabulary's rename).
- JSONL hyper-step records written before they named their phase.
- Checkpoints written before the search kept its trail and best point, the guard its lowest value,
  and the outer update its starting point.
"""

from __future__ import annotations

import math
from typing import Any

RENAMED_KEYS = {
    **{f"search.{old}": f"search.{new}" for old, new in {
        "method": "hypergrad.method", "method_options": "hypergrad.options", "damping": "hypergrad.damping",
        "learn": "family.learn", "scale_map": "family.scale_map", "cluster_size": "family.cluster_size",
        "init": "family.init", "init_tau": "family.init_tau", "init_gamma": "family.init_gamma",
        "init_beta": "family.init_beta", "outer_optimizer": "outer.optimizer", "outer_lr": "outer.lr",
        "outer_momentum": "outer.momentum", "outer_weight_decay": "outer.weight_decay", "anchor": "outer.anchor",
        "clip": "outer.clip", "optim_milestones": "inner.milestones", "optim_decay": "inner.decay",
        "optim_weight_decay": "inner.weight_decay", "freeze": "export.value", "freeze_last": "export.window",
    }.items()},
    "optim.schedule": "optim.lr_schedule",
    "data.group_column": "data.attribute_column",
}
"""Keys of earlier versions and their names now; the CLI translates them, config errors name them."""

ADDED_KEYS = {"search.folds": 1, "search.family.augment_max_ratio": None, "search.outer.prior_width": None,
              "objective.final_temperature": None, "search.family.parametrization": "per_class",
              "search.family.init_path": None, "search.val_mode": "train",
              "search.guard.enabled": False, "search.guard.window": 20, "search.guard.rise": 0.5,
              "search.guard.climb": 0.25, "search.guard.backoff": 0.5, "search.guard.drawdown": math.inf,
              "compile": False, "data.val_path": None, "data.label_noise.rate": 0.0, "data.label_noise.classes": None,
              "data.label_noise.flip_to": "uniform", "objective.class_weights": None,
              "search.family.attributes": ["log_frequency"], "search.family.map_hidden": 0,
              "eval_test_per_epoch": True, "stage": "all", "from_run": None, "posthoc.enabled": False,
              "posthoc.parametrization": "per_class", "posthoc.attributes": ["log_frequency", "difficulty"],
              "posthoc.steps": 300, "posthoc.lr": 0.05, "optimized_metric": "objective_error",
              "data.encoding": None, "data.missing": "error", "data.unknown_category": "ignore"}
"""Keys added since runs were recorded, with the value that reproduces how those runs ran: a
saved config without the key is read as holding that value (on resume, and when tables compare
old and new runs)."""


def renamed_key(key: str) -> str:
    """``key`` under its name now (a sub-key of a renamed key follows it)."""
    for old, new in RENAMED_KEYS.items():
        if key == old or key.startswith(old + "."):
            return new + key[len(old):]
    return key


def renamed(override: str) -> str:
    """A command-line override with an earlier version's key given its name now
    (``search.outer_lr=0.01`` -> ``search.outer.lr=0.01``), so old commands and scripts keep
    working; any other override unchanged.

    >>> renamed("search.outer_lr=0.01"), renamed("+optim.schedule=step"), renamed("seed=3")
    ('search.outer.lr=0.01', '+optim.lr_schedule=step', 'seed=3')
    """
    key, sep, value = override.partition("=")
    new = renamed_key(key.removeprefix("+"))
    return f"{'+' if key.startswith('+') else ''}{new}={value}" if sep and new != key.removeprefix("+") else override


def recorded_settings(flat: dict[str, Any]) -> dict[str, Any]:
    """A saved config, flat (``{"section.key": value}``), under today's key names, with each key
    added since it was saved set to the value that reproduces how that run ran, and without the
    nulls that runs saved before each loss owned its settings recorded for the other losses'
    hyperparameters."""
    current = {renamed_key(k): v for k, v in flat.items() if not (k.startswith("loss.") and v is None)}
    return {**ADDED_KEYS, **current}


OLD_LOSS_FORMATS = ("autobalance.learned_loss/v1", "autobalance.learned_loss/v2")
"""Learned-loss formats before v3: v1 had no augmentation, v2 no label smoothing or weight decay."""


def current_loss_file(data: dict[str, Any], format_now: str) -> dict[str, Any]:
    """A learned-loss file's contents in today's format ``format_now``."""
    data = dict(data)
    if data.get("format") in OLD_LOSS_FORMATS:
        data = {"augmentation": None, "label_smoothing": None, "weight_decay": None, **data, "format": format_now}
    if "num_groups" in data:
        data["num_attribute_values"] = data.pop("num_groups")
    return data


def record_phase(record: dict[str, Any]) -> str | None:
    """The phase a JSONL record belongs to; hyper-step records written before they named it
    belong to ``search`` or, with a ``fold``, to ``search_fold<k>``."""
    if "phase" in record:
        return record["phase"]
    if "hyper_step" in record:
        return f"search_fold{record['fold']}" if "fold" in record else "search"
    return None


def current_search_state(state: dict[str, Any]) -> dict[str, Any]:
    """A search's checkpointed state (:meth:`autobalance.bilevel.BilevelSearch.state_dict`) with
    what older checkpoints lack: the outer update's starting point, the guard, its lowest value and
    where it was, the trail of recent loss values and the best point."""
    state = {"start": {}, "guard": None, "trail": [], "best": None, **state}
    if state["guard"] is not None:
        state["guard"] = {"lowest": math.inf, "best_at": None, **state["guard"]}
    return state
