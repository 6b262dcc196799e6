"""Turn ``tuned.json`` (from ``aggregate.py --tuning``) into one override line per loss.

    python scripts/tuned_overrides.py experiments/.../tuning/tuned.json
    +baseline=la loss.tau=0.5
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

BASELINE_OF = {"ldam": "ldam_drw"}


def overrides(label: str) -> str:
    """``vs(gamma=0.1,tau=1.5)`` -> ``+baseline=vs loss.gamma=0.1 loss.tau=1.5``."""
    match = re.fullmatch(r"(\w+)(?:\(([^)]*)\))?(?:\+\w+)?", label)
    if match is None:
        raise ValueError(f"cannot parse method label {label!r}")
    loss, values = match.group(1), match.group(2)
    parts = [f"+baseline={BASELINE_OF.get(loss, loss)}"]
    parts += [f"loss.{kv}" for kv in values.split(",")] if values else []
    return " ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tuned", type=Path)
    for chosen in json.loads(parser.parse_args().tuned.read_text()):
        print(overrides(chosen["best_method"]))


if __name__ == "__main__":
    main()
