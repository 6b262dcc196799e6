"""Every raise in the code that reads a user's data, loss files and configuration is a user's
input error (an InputError: the CLI prints one line and exits 2) unless it is listed here as a
bug's: a guard of the code's own invariants, which keeps its traceback."""

import ast
from pathlib import Path

import pytest

import autobalance.config
import autobalance.data.errors
import autobalance.errors
import autobalance.training.checkpoint

PACKAGE = Path(autobalance.errors.__file__).parent
USER_FACING = [*sorted((PACKAGE / "data").rglob("*.py")), PACKAGE / "losses" / "io.py", PACKAGE / "config.py",
               PACKAGE / "configure.py", PACKAGE / "settings.py", PACKAGE / "run_dir.py", PACKAGE / "runtime.py",
               PACKAGE / "class_attributes.py", PACKAGE / "objectives.py", PACKAGE / "search.py"]
ONE_LINE = (autobalance.errors.InputError, autobalance.data.errors.DataNotFoundError,
            autobalance.training.checkpoint.CheckpointError)
"""What the CLI reports in one line with exit 2 (autobalance/train.py catches these)."""
INPUT_ERRORS = {name: getattr(module, name) for module in (autobalance.errors, autobalance.config,
                                                          autobalance.data.errors, autobalance.training.checkpoint)
                for name in dir(module) if isinstance(getattr(module, name), type)
                and issubclass(getattr(module, name), ONE_LINE)}
BUGS = {
    ("dataset.py", "ValueError"): "ArraySplit's own invariant; every loader checks lengths by file first",
    ("bundle.py", "ValueError"): "an internal fold index",
    ("build.py", "TypeError"): "a plugin author registering a non-dataclass",
    ("settings.py", "TypeError"): "a registry entry without settings",
    ("objectives.py", "TypeError"): "a plugin author registering a non-dataclass",
    ("csv_table.py", "AssertionError"): "latin-1 decodes every byte",
}


def _raises(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and node.exc is not None:
            call = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(call, ast.Name):
                yield node.lineno, call.id


@pytest.mark.parametrize("path", USER_FACING, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_raise_on_a_users_input_is_an_input_error(path):
    for line, name in _raises(path):
        if name in INPUT_ERRORS or name[0].islower():  # a re-raise of a caught exception object
            continue
        assert (path.name, name) in BUGS, f"{path.relative_to(PACKAGE)}:{line} raises {name}, not an InputError"


def test_every_listed_bug_raise_still_exists():
    found = {(p.name, name) for p in USER_FACING for _, name in _raises(p)}
    assert set(BUGS) <= found


def test_the_cli_reports_each_of_them_in_one_line():
    caught = set()
    for node in ast.walk(ast.parse((PACKAGE / "train.py").read_text())):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            names = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            caught |= {n.id for n in names if isinstance(n, ast.Name)}
    assert {cls.__name__ for cls in ONE_LINE} <= caught
