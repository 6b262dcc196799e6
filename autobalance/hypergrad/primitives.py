"""Autograd building blocks: flat parameter views, Hessian-vector products, the mixed
second derivative by forward-mode AD, and power iteration."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.autograd.forward_ad as fwAD

from autobalance.hypergrad.closures import averaged_over_shards
from autobalance.hypergrad.types import LossFn, Params


def select(params: Params, names: Sequence[str] | None) -> list[str]:
    """Names of the parameters in the Hessian: all, or those equal to or under a given prefix."""
    if names is None:
        return list(params)
    chosen = [n for n in params if any(n == p or n.startswith(p + ".") for p in names)]
    if not chosen:
        raise ValueError(f"no parameter matches {list(names)}; parameters are {list(params)[:8]}...")
    return chosen


def flatten(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(flat: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    out, i = [], 0
    for t in like:
        out.append(flat[i : i + t.numel()].view_as(t))
        i += t.numel()
    return out


def detached(params: Params) -> Params:
    return {n: p.detach() for n, p in params.items()}


def leaf_copy(params: Params) -> Params:
    return {n: p.detach().requires_grad_(True) for n, p in params.items()}


def vjp(outputs: Sequence[torch.Tensor], inputs: Sequence[torch.Tensor], grad_outputs: Sequence[torch.Tensor],
        **kwargs) -> list[torch.Tensor]:
    """sum_i <outputs_i, grad_outputs_i> differentiated w.r.t. ``inputs``; outputs that depend on
    nothing (the zero gradient of a parameter the forward pass never uses) contribute zero."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs, strict=True) if o.requires_grad]
    if not pairs:
        return [torch.zeros_like(t) for t in inputs]
    return list(torch.autograd.grad([o for o, _ in pairs], list(inputs), grad_outputs=[g for _, g in pairs],
                                    materialize_grads=True, **kwargs))


def grad_dict(out: torch.Tensor, inputs: Params, **kwargs) -> Params:
    """d out / d inputs with zeros for inputs ``out`` does not depend on."""
    gs = torch.autograd.grad(out, list(inputs.values()), materialize_grads=True, **kwargs)
    return dict(zip(inputs, gs, strict=True))


class HessianOperator:
    """v -> (H + damping I) v for H = d2 L_train / d theta_S^2, on flat vectors.

    The gradient graph is built once and reused by every product (each costs one backward
    through it); parameters outside the subset S are constants. The hyperparameters are leaves
    of that graph, so :meth:`mixed` can reuse it too.
    """

    def __init__(self, train_loss: LossFn, params: Params, hparams: Params, subset: list[str],
                 damping: float = 0.0) -> None:
        self.train_loss = train_loss
        self.active = {n: params[n].detach().requires_grad_(True) for n in subset}
        self.hparams = leaf_copy(hparams)
        full = {**detached(params), **self.active}
        loss = train_loss(full, self.hparams)
        self.grad = torch.autograd.grad(loss, list(self.active.values()), create_graph=True, materialize_grads=True)
        self.damping = damping
        self.calls = 0
        self.size = sum(p.numel() for p in self.active.values())

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        hv = vjp(self.grad, list(self.active.values()), unflatten(v, self.grad), retain_graph=True)
        return flatten(averaged_over_shards(self.train_loss, hv)) + self.damping * v

    def mixed(self, direction: torch.Tensor) -> Params:
        """d/d alpha [grad_theta_S L . p] by a backward through the stored gradient graph: cheap
        when S is a small part of the network (only the graph above S is traversed)."""
        dot = sum((g * p).sum() for g, p in zip(self.grad, unflatten(direction, self.grad), strict=True))
        if not dot.requires_grad:
            return {n: torch.zeros_like(h) for n, h in self.hparams.items()}
        return _shard_averaged(self.train_loss, grad_dict(dot, self.hparams, retain_graph=True))

    def dense(self) -> torch.Tensor:
        """The full (P x P) damped Hessian, from P products batched with vmap."""
        eye = torch.eye(self.size, dtype=self.grad[0].dtype, device=self.grad[0].device)
        used = [(g, e) for g, e in zip(self.grad, _split_rows(eye, self.grad), strict=True) if g.requires_grad]
        rows = (torch.autograd.grad([g for g, _ in used], list(self.active.values()),
                                    grad_outputs=[e for _, e in used], retain_graph=True,
                                    is_grads_batched=True, allow_unused=True)
                if used else [None] * len(self.grad))
        # materialize_grads would drop the batch dimension of unused inputs: fill them here
        rows = [torch.zeros(self.size, *p.shape, dtype=eye.dtype, device=eye.device) if r is None else r
                for r, p in zip(rows, self.active.values(), strict=True)]
        self.calls += self.size
        h = torch.cat([r.reshape(self.size, -1) for r in rows], dim=1)
        return averaged_over_shards(self.train_loss, [h])[0] + self.damping * eye


def _split_rows(eye: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    out, i = [], 0
    for t in like:
        out.append(eye[:, i : i + t.numel()].reshape(eye.shape[0], *t.shape))
        i += t.numel()
    return out


def mixed_product(train_loss: LossFn, params: Params, hparams: Params, subset: list[str],
                  direction: torch.Tensor) -> Params:
    """d/d alpha [ grad_theta_S L_train(theta, alpha) . p ] for a fixed direction p.

    One forward pass in forward mode (theta_S carries p as tangent) gives the directional
    derivative dL/dtheta . p as an ordinary autograd tensor; its reverse-mode gradient with
    respect to alpha only traverses the part of the graph that alpha touches (the loss head),
    about one forward+backward in all. Reverse mode over BatchNorm's forward-mode derivative
    is wrong when hyperparameters reach the network's input, so this path is taken only for a
    closure that vouches they do not (``hparams_after_network``, set by :func:`model_closure`
    without ``input_fn``); any other closure, a wrapper included, gets the exact double backward.
    """
    if not getattr(train_loss, "hparams_after_network", False):
        return mixed_product_double_backward(train_loss, params, hparams, subset, direction)
    hp = leaf_copy(hparams)
    tangents = dict(zip(subset, unflatten(direction, [params[n] for n in subset]), strict=True))
    with fwAD.dual_level():
        dual = {n: fwAD.make_dual(p.detach(), tangents[n]) if n in tangents else p.detach()
                for n, p in params.items()}
        directional = fwAD.unpack_dual(train_loss(dual, hp)).tangent
    if directional is None or not directional.requires_grad:
        return {n: torch.zeros_like(h) for n, h in hp.items()}
    try:
        return _shard_averaged(train_loss, grad_dict(directional, hp))
    except RuntimeError as err:
        if "inplace operation" not in str(err):
            raise
        # PyTorch's fused log_softmax/logsumexp forward-mode formulas are not differentiable
        # again; autobalance.losses.functional.cross_entropy is. Fall back to the exact (slower)
        # double backward for losses written with the fused ops.
        return mixed_product_double_backward(train_loss, params, hparams, subset, direction)


def mixed_product_double_backward(train_loss: LossFn, params: Params, hparams: Params,
                                  subset: list[str], direction: torch.Tensor) -> Params:
    """The same quantity by reverse over reverse: grad_alpha (grad_theta_S L . p)."""
    return HessianOperator(train_loss, params, hparams, subset).mixed(direction)


def _shard_averaged(closure: LossFn, grads: Params) -> Params:
    return dict(zip(grads, averaged_over_shards(closure, list(grads.values())), strict=True))


def power_iteration(hvp, size: int, iters: int, start: torch.Tensor | None = None,
                    dtype=torch.float32, device=None) -> tuple[float, torch.Tensor]:
    """Largest-magnitude eigenvalue estimate of the operator, and its eigenvector estimate."""
    if start is None:  # a fixed seed keeps the estimate reproducible
        start = torch.randn(size, generator=torch.Generator().manual_seed(0)).to(device, dtype)
    v = start
    v = v / v.norm()
    eig = torch.tensor(0.0)
    for _ in range(max(iters, 1)):
        hv = hvp(v)
        eig = v.dot(hv)
        v = hv / hv.norm().clamp(min=1e-30)
    return float(eig), v
