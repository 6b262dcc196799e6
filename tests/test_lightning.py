"""The search as a Lightning callback: a tiny LightningModule trains with the learned loss, the
callback takes hyper-steps after the optimizer's steps and exports the loss at the end."""

import pytest
import torch
from torch import nn

lightning = pytest.importorskip("lightning", reason="needs the optional extra: pip install 'autobalance[lightning]'")

from autobalance import Search  # noqa: E402
from autobalance.lightning import SearchCallback  # noqa: E402
from autobalance.losses import load_loss  # noqa: E402


class Tiny(lightning.LightningModule):
    def __init__(self, search_loss):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
        self.criterion = search_loss

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.criterion(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)


def test_the_lightning_example_learns_and_exports_the_loss(tmp_path):
    torch.manual_seed(0)
    counts = [200, 60, 20]
    y = torch.cat([torch.full((n,), k) for k, n in enumerate(counts)])
    x = torch.randn(len(y), 6) + 2 * nn.functional.one_hot(y, 6).float()
    yv = torch.arange(3).repeat(10)
    xv = torch.randn(len(yv), 6) + 2 * nn.functional.one_hot(yv, 6).float()
    module = Tiny(None)
    search = Search(module, counts, xv, yv, head="net.2", every=4, outer_lr=0.05)
    module.criterion = search.loss
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=True)
    start = search.loss.offsets().detach().clone()
    callback = SearchCallback(search, export_to=tmp_path / "learned_loss.yaml", class_names=["a", "b", "c"])
    trainer = lightning.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, enable_model_summary=False, callbacks=[callback])
    trainer.fit(module, loader)
    assert [r["step"] for r in search.records] == [4, 8, 12, 16, 20, 24]  # 27 optimizer steps, one every 4
    assert not torch.allclose(search.loss.offsets().detach(), start)
    fixed = load_loss(tmp_path / "learned_loss.yaml")
    torch.testing.assert_close(fixed.offsets(), search.frozen_loss().offsets(), atol=1e-5, rtol=0)
