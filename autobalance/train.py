"""Command line: ``python -m autobalance.train [+experiment=NAME] [key=value ...]``."""

from __future__ import annotations

import shlex
import signal
import sys
import tempfile
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from autobalance.config import ConfigError
from autobalance.configure import load_config
from autobalance.data.errors import DataNotFoundError
from autobalance.distributed import ranks_from_env, start_process_group, stop_process_group
from autobalance.errors import InputError
from autobalance.legacy import renamed
from autobalance.plugins import import_plugins, plugins_in
from autobalance.run_dir import agree_on_start_time, mark_start_time
from autobalance.runtime import available_cpus, configure_threads
from autobalance.training.checkpoint import CheckpointError


def main() -> None:
    """The CLI: earlier versions' flat ``search.*`` keys are renamed, then Hydra runs the job.

    Under torchrun every process joins the job's process group first and agrees on one run
    directory; ranks other than 0 write no Hydra files and print nothing."""
    ranks = ranks_from_env()
    translated = [renamed(a) for a in sys.argv[1:]]
    for old, new in zip(sys.argv[1:], translated, strict=True):
        if old != new and ranks.is_main:
            print(f"autobalance: {old.split('=')[0]} is now {new.split('=')[0]}", file=sys.stderr)
    sys.argv[1:] = translated
    if ranks.is_main:
        _check_output_dir(translated)
    try:
        import_plugins(plugins_in(translated))  # their parts are options of the config groups
    except ConfigError as e:
        _fail(f"config error: {e}", 2)
    mark_start_time()  # a joblib sweep's workers name the sweep folder this process prints
    if ranks.active:
        start_process_group(ranks)
        agree_on_start_time(ranks)
        if not ranks.is_main:
            sys.argv += ["hydra.output_subdir=null", "hydra/job_logging=disabled", "hydra/hydra_logging=disabled"]
    try:
        hydra_main()
    finally:
        stop_process_group()


@hydra.main(version_base="1.3", config_path="pkg://autobalance.configs", config_name="config")
def hydra_main(cfg: DictConfig) -> float:
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    signal.signal(signal.SIGTERM, _interrupt)
    start_process_group(ranks_from_env())  # a launcher's tasks (submitit) join here; torchrun's in main()
    try:
        import_plugins(cfg.get("plugins") or [])  # a preset's plugins too, before names are checked
        run_cfg = load_config(cfg)
        if _optimizing_sweeper(hydra_cfg) and run_cfg.train_on_val and run_cfg.search.retrain:
            raise ConfigError("train_on_val=true: the final model trains on the validation split, so a sweep "
                              f"cannot be tuned on its {run_cfg.optimized_metric}; expected train_on_val=false")
        configure_threads(_concurrent_jobs(hydra_cfg))
        if hydra_cfg.mode == RunMode.MULTIRUN and hydra_cfg.job.override_dirname:
            run_cfg.name = f"{run_cfg.name}[{hydra_cfg.job.override_dirname}]"  # one W&B name per job
        from autobalance.pipeline import run

        results = run(run_cfg, out_dir)
    except ConfigError as e:
        _fail(f"config error: {e}", 2)
    except (InputError, DataNotFoundError, CheckpointError, FloatingPointError) as e:  # other errors are bugs
        _fail(f"error: {e}", 2)
    except KeyboardInterrupt:
        how = f"Resume this run with:\n  {resume_command(out_dir)}"
        if hydra_cfg.mode == RunMode.MULTIRUN:
            how = ("\nResume the whole sweep (finished jobs are skipped, this one continues, the rest run) with:\n"
                   f"  {sweep_resume_command(hydra_cfg.sweep.dir)}\n"
                   f"or this job alone with:\n  {resume_command(out_dir)}")
        _fail(f"interrupted; checkpoints are kept at the end of each epoch. {how}", 130)
    return optimized_value(results, run_cfg.optimized_metric)


def optimized_value(results: dict, metric: str) -> float | None:
    """What a sweep minimizes: the final model's validation ``metric``; None (nothing to tune on)
    when it trained on the validation split. A test metric is never returned."""
    val = results.get("val")
    if val is None:
        return None
    if metric not in val:
        raise ConfigError(f"optimized_metric={metric!r}: expected a key of the validation metrics "
                          f"({', '.join(k for k, v in val.items() if isinstance(v, float))})")
    return float(val[metric])


def _optimizing_sweeper(hydra_cfg) -> bool:
    """Whether a sweeper picks trials by the value the job returns (Optuna, not the basic grid)."""
    return hydra_cfg.mode == RunMode.MULTIRUN and "optuna" in str(hydra_cfg.sweeper.get("_target_", "")).lower()


def _check_output_dir(args: list[str]) -> None:
    """Stop in one line, before Hydra writes anything, when the run's (or sweep's) directory cannot
    be created: the part of ``hydra.run.dir`` / ``hydra.sweep.dir`` before any interpolation, or
    the current directory, where ``outputs/`` and ``multirun/`` go."""
    given = [a.split("=", 1)[1] for a in args if a.startswith(("hydra.run.dir=", "hydra.sweep.dir="))]
    target = Path(given[0].split("${")[0] or ".") if given else Path.cwd()
    try:
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target):
            pass
    except OSError as e:
        _fail(f"error: cannot write the output directory {target} ({e.strerror or e}); choose a writable one "
              "with hydra.run.dir=DIR (hydra.sweep.dir=DIR for -m)", 2)


def _fail(message: str, code: int) -> None:
    """Say why the job stops (naming the rank under torchrun, where any rank may fail) and exit."""
    ranks = ranks_from_env()
    where = f" (rank {ranks.rank} of {ranks.world_size})" if ranks.active else ""
    print(f"autobalance{where}: {message}", file=sys.stderr)
    sys.exit(code)


def _concurrent_jobs(hydra_cfg) -> int:
    """How many jobs of this sweep share the machine: the joblib launcher's n_jobs, else 1."""
    if hydra_cfg.mode != RunMode.MULTIRUN or "joblib" not in str(hydra_cfg.launcher.get("_target_", "")):
        return 1
    n_jobs = int(hydra_cfg.launcher.get("n_jobs", 1))
    return available_cpus() if n_jobs < 0 else n_jobs


def _interrupt(signum, frame) -> None:
    """SIGTERM (a scheduler's stop) ends the run the way Ctrl-C does."""
    raise KeyboardInterrupt


def resume_command(out_dir: Path) -> str:
    """The command that continues this run: its overrides, resume=true and its directory."""
    kept = [o for o in HydraConfig.get().overrides.task
            if not o.startswith(("resume=", "hydra.run.dir=", "hydra.sweep.dir="))]
    return " ".join(["python -m autobalance.train", *(shlex.quote(o) for o in kept), "resume=true",
                     f"hydra.run.dir={shlex.quote(str(out_dir))}"])


def sweep_resume_command(sweep_dir: str) -> str:
    """The sweep's own command line again, with resume=true and its directory pinned."""
    kept = [a for a in sys.argv[1:] if not a.startswith(("resume=", "hydra.sweep.dir="))]
    return " ".join(["python -m autobalance.train", *(shlex.quote(a) for a in kept), "resume=true",
                     f"hydra.sweep.dir={shlex.quote(str(sweep_dir))}"])


if __name__ == "__main__":
    main()
