"""Device-resident batching vs a torch DataLoader with per-sample transforms; and the cost of
learned per-class augmentation on top of the fixed crop and flip.

Both pipelines produce the same thing from the same uint8 CIFAR-shaped data: random crop with
4-pixel zero padding, horizontal flip, normalization, batches of 128, one epoch. Reports images/s
of each and their ratio (measured in the same process, so machine drift cancels). Then the
fixed crop-and-flip batches against the same batches passed through the learned augmentation
(translate, scale, noise with per-class magnitudes: one affine resampling and a noise draw per
batch), as batches alone and as ResNet-32 training steps (forward, backward, SGD).

    python scripts/bench_data_pipeline.py --out experiments/data_pipeline
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from autobalance.data.bundle import BatchTransform, DataBundle, TensorSplit
from autobalance.data.dataset import ArraySplit
from autobalance.losses import ParametricLoss
from autobalance.models import create_model
from autobalance.runtime import code_version

MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).reshape(1, 3, 1, 1)
STD = torch.tensor([0.2470, 0.2435, 0.2616]).reshape(1, 3, 1, 1)


class PerSampleDataset(Dataset):
    """The usual torchvision-style pipeline, written with torch ops per image."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        img = self.x[i].float() / 255.0
        img = torch.nn.functional.pad(img, (4, 4, 4, 4))
        top, left = np.random.randint(0, 9, size=2)
        img = img[:, top : top + 32, left : left + 32]
        if np.random.rand() < 0.5:
            img = img.flip(-1)
        return (img - MEAN[0]) / STD[0], self.y[i]


def time_epochs(make_iter, epochs: int) -> float:
    """Images per second over ``epochs`` full passes (after one warm-up pass)."""
    for _ in make_iter(0):
        pass
    start, n = time.perf_counter(), 0
    for e in range(epochs):
        for x, _, *_ in make_iter(e + 1):
            n += len(x)
    return n / (time.perf_counter() - start)


def time_augmentation(bundle: DataBundle, steps: int) -> dict[str, float]:
    """Images/s of the fixed batches and of the fixed batches with the learned augmentation,
    batches alone and as ResNet-32 (width 16) training steps."""
    learned = ParametricLoss(10, learn=("augment",), augment_ops=("translate", "scale", "noise"))
    fixed = ParametricLoss(10, learn=())
    model = create_model("resnet32", (3, 32, 32), 10, width=16)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def batches_only(loss):
        return time_epochs(lambda e: ((loss.augment_inputs(x, y), y) for x, y, _ in bundle.train_batches(0, e)), 1)

    def training_steps(loss):
        batches = [b for _, b in zip(range(steps + 2), bundle.train_batches(0, 0), strict=False)]
        for i, (x, y, _) in enumerate(batches):
            if i == 2:  # two warm-up steps
                start = time.perf_counter()
            out = model(loss.augment_inputs(x, y))
            optimizer.zero_grad()
            loss(out, y).backward()
            optimizer.step()
        return sum(len(y) for _, y, _ in batches[2:]) / (time.perf_counter() - start)

    return {"batches_fixed": batches_only(fixed), "batches_learned": batches_only(learned),
            "steps_fixed": training_steps(fixed), "steps_learned": training_steps(learned)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12406, help="CIFAR-10-LT rho=100 size")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--steps", type=int, default=20, help="ResNet-32 steps timed per setting")
    parser.add_argument("--out", type=Path, default=Path("experiments/data_pipeline"))
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, args.images)
    split = TensorSplit.from_arrays(ArraySplit(x, y), torch.device("cpu"))
    bundle = DataBundle(split, split, split, [str(c) for c in range(10)], [1] * 10,
                        BatchTransform(MEAN, STD, "crop_flip"), batch_size=128)
    results = {"device_resident": time_epochs(lambda e: bundle.train_batches(0, e), args.epochs)}
    dataset = PerSampleDataset(x, y)
    for workers in args.workers:
        def loader(e, workers=workers):
            torch.manual_seed(e)
            return DataLoader(dataset, batch_size=128, shuffle=True, num_workers=workers,
                              persistent_workers=False)
        results[f"dataloader_workers{workers}"] = time_epochs(loader, args.epochs)

    augmentation = time_augmentation(bundle, args.steps)
    best_loader = max(v for k, v in results.items() if k.startswith("dataloader"))
    report = {
        "images_per_second": results,
        "speedup_vs_best_dataloader": results["device_resident"] / best_loader,
        "learned_augmentation_images_per_second": augmentation,
        "images": args.images, "epochs": args.epochs, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
        "code_version": code_version(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["| pipeline | images/s | ratio to device-resident |", "|---|---|---|"]
    for name, ips in results.items():
        lines.append(f"| {name} | {ips:,.0f} | {results['device_resident'] / ips:.2f}x |")
    table = "\n".join(lines)
    (args.out / "report.md").write_text(
        "# Data pipeline: device-resident batches vs DataLoader\n\n"
        f"`python scripts/bench_data_pipeline.py` on CPU ({report['threads']} threads), "
        f"{args.images} CIFAR-shaped uint8 images, crop(pad 4)+flip+normalize, batch 128, "
        f"{args.epochs} epochs after one warm-up; torch {torch.__version__}, "
        f"code {report['code_version']}.\n\n{table}\n\n"
        f"Speed-up over the best DataLoader setting: "
        f"**{report['speedup_vs_best_dataloader']:.1f}x** (target: >= 5x).\n\n"
        "## Learned per-class augmentation on top of crop and flip\n\n"
        "| what | fixed crop+flip, images/s | + learned translate/scale/noise, images/s | ratio |\n"
        "|---|---|---|---|\n"
        f"| batches alone (one epoch) | {augmentation['batches_fixed']:,.0f} | {augmentation['batches_learned']:,.0f} "
        f"| {augmentation['batches_learned'] / augmentation['batches_fixed']:.2f}x |\n"
        f"| ResNet-32 (width 16) training steps ({args.steps}) | {augmentation['steps_fixed']:,.0f} "
        f"| {augmentation['steps_learned']:,.0f} "
        f"| {augmentation['steps_learned'] / augmentation['steps_fixed']:.2f}x |\n"
    )
    print(table)
    print(f"speed-up {report['speedup_vs_best_dataloader']:.1f}x")


if __name__ == "__main__":
    main()
