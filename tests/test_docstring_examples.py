"""Every example in the package's docstrings (``>>>``) runs as written."""

import doctest
import importlib
from pathlib import Path

import pytest

import autobalance

PACKAGE = Path(autobalance.__file__).parent


def _modules_with_examples() -> list[str]:
    files = sorted(PACKAGE.rglob("*.py"))
    names = [".".join(("autobalance", *f.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
             for f in files]
    finder = doctest.DocTestFinder()
    return [n for n in names if any(t.examples for t in finder.find(importlib.import_module(n)))]


MODULES = _modules_with_examples()


def test_the_public_entry_points_carry_examples():
    assert {"autobalance.registry", "autobalance.losses.factory", "autobalance.models",
            "autobalance.losses.priors", "autobalance.legacy"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, report=True)
    assert result.attempted > 0 and result.failed == 0
