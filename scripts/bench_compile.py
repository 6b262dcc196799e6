"""The compiled training step against eager: training steps per second of the same model on the
same batches, in the same process, the two interleaved round by round (so machine drift cancels),
after each has compiled and warmed up; the compile time itself is reported apart.

A step is what the trainer's step runs: forward and backward of the model (compiled as
``compile=true`` compiles it, :mod:`autobalance.training.compiled`), the loss and SGD with momentum.

    python scripts/bench_compile.py --out experiments/compile --tag cpu            # CPU, ResNet-32 and CNN-28
    python scripts/bench_compile.py --device cuda --out experiments/compile --tag h100
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from pathlib import Path

import torch

from autobalance.models import create_model
from autobalance.runtime import code_version
from autobalance.training.compiled import compiled_graphs, compiled_module

SHAPES = {"resnet32": (3, 32, 32), "cnn28": (1, 28, 28)}


def make_step(model: torch.nn.Module, module: torch.nn.Module):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x: torch.Tensor, y: torch.Tensor) -> float:
        loss = torch.nn.functional.cross_entropy(module(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def steps_per_second(step, batches, steps: int) -> float:
    start = time.perf_counter()
    for i in range(steps):
        step(*batches[i % len(batches)])
    return steps / (time.perf_counter() - start)


def bench(name: str, device: torch.device, batch: int, steps: int, rounds: int) -> dict:
    torch.manual_seed(0)
    eager_model = create_model(name, SHAPES[name], 10).to(device)
    compiled_model = copy.deepcopy(eager_model)
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(batch, *SHAPES[name], generator=gen).to(device),
                torch.randint(0, 10, (batch,), generator=gen).to(device)) for _ in range(4)]
    eager = make_step(eager_model, eager_model)
    compiled = make_step(compiled_model, compiled_module(compiled_model, device))
    graphs = compiled_graphs()
    start = time.perf_counter()
    for x, y in batches[:3]:  # compile, then warm (CUDA graphs record on the later calls)
        compiled(x, y)
    compile_seconds = time.perf_counter() - start
    eager(*batches[0])
    rates = {"eager": [], "compiled": []}
    for _ in range(rounds):
        rates["eager"].append(steps_per_second(eager, batches, steps))
        rates["compiled"].append(steps_per_second(compiled, batches, steps))
    eager_rate, compiled_rate = (sorted(r)[len(r) // 2] for r in (rates["eager"], rates["compiled"]))
    return {"model": name, "device": str(device), "batch": batch, "threads": torch.get_num_threads(),
            "eager_steps_per_second": eager_rate, "compiled_steps_per_second": compiled_rate,
            "speedup": compiled_rate / eager_rate, "compile_seconds": compile_seconds,
            "graphs": compiled_graphs() - graphs, "rounds": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the median is reported")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--tag", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    rows = [bench(name, device, args.batch, args.steps, args.rounds) for name in args.models]
    lines = ["| model | device | batch | threads | eager steps/s | compiled steps/s | compiled / eager | "
             "compile s | graphs |", "|---" * 9 + "|"]
    lines += [f"| {r['model']} | {r['device']} | {r['batch']} | {r['threads']} | {r['eager_steps_per_second']:.2f} "
              f"| {r['compiled_steps_per_second']:.2f} | {r['speedup']:.2f}x | {r['compile_seconds']:.1f} "
              f"| {r['graphs']} |" for r in rows]
    print("\n".join(lines))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        meta = {"code_version": code_version(), "torch": torch.__version__, "machine": platform.processor(),
                "command": f"python scripts/bench_compile.py --device {args.device} --tag {args.tag}"}
        (args.out / f"report_{args.tag}.json").write_text(json.dumps({**meta, "rows": rows}, indent=1) + "\n")
        (args.out / f"report_{args.tag}.md").write_text(
            f"Compiled training step against eager (`{meta['command']}`, code {meta['code_version']}, torch "
            f"{meta['torch']}); medians of {args.rounds} interleaved rounds of {args.steps} steps.\n\n"
            + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
