"""Every config group is shipped: a non-editable install must carry all of configs/."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_config_directory_is_a_listed_package_with_its_yaml():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = {".".join(("autobalance", "configs", *p.relative_to(ROOT / "configs").parts))
            for p in (ROOT / "configs").rglob("*") if p.is_dir() and "__pycache__" not in p.parts}
    dirs.add("autobalance.configs")
    assert dirs <= set(setuptools["packages"])
    with_yaml = {d for d in dirs if any((ROOT / "configs" / Path(*d.split(".")[2:])).glob("*.yaml"))}
    assert with_yaml <= set(setuptools["package-data"])
