"""Every config group is shipped: a non-editable install must carry all of configs/."""

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_config_directory_is_a_listed_package_with_its_yaml():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = {".".join(("autobalance", "configs", *p.relative_to(ROOT / "configs").parts))
            for p in (ROOT / "configs").rglob("*") if p.is_dir() and "__pycache__" not in p.parts}
    dirs.add("autobalance.configs")
    assert dirs <= set(setuptools["packages"])
    with_yaml = {d for d in dirs if any((ROOT / "configs" / Path(*d.split(".")[2:])).glob("*.yaml"))}
    assert with_yaml <= set(setuptools["package-data"])


@pytest.mark.slow  # a subprocess run of the command line: seconds each
def test_the_cli_finds_its_configs_when_run_from_the_source_checkout():
    """From the repository root, ``autobalance`` is the source folder (it shadows an installed
    copy), whose configs live beside it: the package maps them as an install does."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "autobalance.train", "--cfg", "job", "--package", "model"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# @package model\nname: ")
    configs = subprocess.run([sys.executable, "-c", "import autobalance.configs as c; print(c.__file__)"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60).stdout.strip()
    assert Path(configs) == ROOT / "configs" / "__init__.py"
