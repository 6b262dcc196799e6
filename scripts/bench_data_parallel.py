"""The main job on this machine's cores two ways: one process with N threads against N
processes with one thread each (torchrun, gloo), back to back, the same seed and config.

Reports wall time per phase, their ratio, and the results of both (the two runs differ by
per-rank BatchNorm statistics and float summation order, nothing else).

    python scripts/bench_data_parallel.py --out experiments/distributed [--procs 2] [-- key=value ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from autobalance.runtime import code_version


def run_job(out_dir: Path, procs: int, threads: int, overrides: list[str]) -> dict:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
                if procs > 1 else [sys.executable])
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    cmd = [*launcher, "-m", "autobalance.train", *overrides, "logger.progress=false", f"hydra.run.dir={out_dir}"]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads((out_dir / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("experiments/distributed"))
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("overrides", nargs="*", help="config overrides for both runs (default: the main job)")
    args = parser.parse_args()
    layouts = {f"1 process x {args.procs} threads": (1, args.procs),
               f"{args.procs} processes x 1 thread": (args.procs, 1)}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, (procs, threads)) in enumerate(layouts.items()):
            results[name] = run_job(Path(tmp) / str(i), procs, threads, args.overrides)
    single, parallel = results.values()
    phases = list(single["phase_seconds"])
    lines = ["| layout | " + " | ".join(f"{p} s" for p in phases) + " | wall s | balanced error % (learned) "
             "| LA | CE |", "|---|" + "---|" * (len(phases) + 4)]
    for name, m in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{m['phase_seconds'][p]:.1f}" for p in phases)
                     + f" | {m['wall_seconds']:.1f} | {m['test']['balanced_error']:.2f} "
                     f"| {m.get('la_test', {}).get('balanced_error', float('nan')):.2f} "
                     f"| {m.get('ce_test', {}).get('balanced_error', float('nan')):.2f} |")
    ratio = parallel["wall_seconds"] / single["wall_seconds"]
    command = " ".join(["python scripts/bench_data_parallel.py", f"--out {args.out}", f"--procs {args.procs}",
                        *args.overrides])
    text = (f"# Data parallelism on this machine's CPU cores\n\nCode version {code_version()}, seed "
            f"{single['seed']}, {single['dataset']}; `{command}`.\n\n" + "\n".join(lines)
            + f"\n\nWall time of {args.procs} processes relative to 1 process: {ratio:.2f}x.\n")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cpu_processes_vs_threads.md").write_text(text)
    (args.out / "cpu_processes_vs_threads.json").write_text(json.dumps(results, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    main()
