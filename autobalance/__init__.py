"""autobalance: learned losses for imbalanced and group-sensitive classification."""

from pathlib import Path

_SOURCE_CONFIGS = Path(__file__).resolve().parent.parent / "configs"
if (_SOURCE_CONFIGS / "__init__.py").exists() and not (Path(__file__).parent / "configs").exists():
    # Imported from a source checkout (the repository root is on sys.path, as when running from
    # it): the configs folder beside the package is ``autobalance.configs``, as the installed
    # package maps it (pyproject.toml, package-dir), so Hydra finds them either way.
    __path__.append(str(_SOURCE_CONFIGS.parent))


def __getattr__(name: str):
    """``autobalance.Search`` without importing torch at ``import autobalance`` (the CLI's configs)."""
    if name == "Search":
        from autobalance.search import Search

        return Search
    raise AttributeError(f"module 'autobalance' has no attribute {name!r}")
