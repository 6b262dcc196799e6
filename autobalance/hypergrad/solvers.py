"""Approximate solvers for (H + damping I) p = v, each a function of an HVP operator.

Every solver returns (p, info, state); ``state`` carries what the next call may reuse
(CG's previous solution, the power-iteration eigenvector).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from autobalance.errors import InputError
from autobalance.hypergrad.primitives import HessianOperator, power_iteration


@dataclass
class IdentitySolver:
    """H^-1 ~ eta I (one-step / T1-T2 / DARTS first order)."""

    eta: float = 1.0

    def __call__(self, hvp: HessianOperator | None, v: torch.Tensor, state: dict[str, Any]):
        return self.eta * v, {"iterations": 0}, state


@dataclass
class NeumannSolver:
    """p = eta * sum_{j=0..J} (I - eta H)^j v, with eta = safety / lambda_max unless given.

    lambda_max comes from power iteration warm-started from the previous eigenvector, so after
    the first call a few products keep it current. The series converges when
    eta * lambda_max < 2; the official recipe's fixed eta = 1 violates that on small ResNets.
    """

    terms: int = 5
    eta: float | None = None
    safety: float = 0.9
    power_iters: int = 10
    power_iters_warm: int = 2
    report_residual: bool = True

    def __call__(self, hvp: HessianOperator, v: torch.Tensor, state: dict[str, Any]):
        info: dict[str, Any] = {}
        eta = self.eta
        if eta is None:
            start = state.get("eigvec")
            iters = self.power_iters if start is None else self.power_iters_warm
            eig, vec = power_iteration(hvp, hvp.size, iters, start, v.dtype, v.device)
            state = {**state, "eigvec": vec}
            info["eigenvalue"] = eig
            eta = self.safety / abs(eig) if eig != 0 else 1.0
        term, total = v.clone(), v.clone()
        for _ in range(self.terms):
            term = term - eta * hvp(term)
            total = total + term
        p = eta * total
        info.update(iterations=self.terms, eta=eta)
        if self.report_residual:
            info["residual"] = float((hvp(p) - v).norm() / v.norm().clamp(min=1e-30))
        return p, info, state


@dataclass
class CGSolver:
    """Conjugate gradient on (H + damping I) p = v, warm-started from the previous solution.

    Stops when the recurrence's relative residual reaches ``tol``, or after ``max_iter``
    products; ``residual`` in the diagnostics is the true one, from one more product. A direction of non-positive
    curvature (an indefinite Hessian, common early in training) stops the iteration; if it is
    the first direction, the step along it uses the absolute curvature (as saddle-free Newton
    does) so that the solve never degenerates to zero. The warm start is used only when its
    residual is below ``|v|`` (better than starting from zero): on an indefinite Hessian,
    carrying every solution forward grows it along the negative-curvature directions without
    bound, solve after solve.
    """

    max_iter: int = 10
    tol: float = 1e-5
    warm_start: bool = True

    def __call__(self, hvp: HessianOperator, v: torch.Tensor, state: dict[str, Any]):
        v_norm = v.norm().clamp(min=1e-30)
        x, r = torch.zeros_like(v), v.clone()
        previous = state.get("solution") if self.warm_start else None
        if previous is not None and previous.shape == v.shape:
            r_warm = v - hvp(previous)
            if r_warm.norm() < v_norm:
                x, r = previous, r_warm
        d = r.clone()
        rs = r.dot(r)
        iterations = 0
        while True:
            if rs.sqrt() / v_norm <= self.tol:
                stop = "tolerance"
                break
            if iterations >= self.max_iter:
                stop = "max_iter"
                break
            hd = hvp(d)
            curvature = d.dot(hd)
            iterations += 1
            if curvature <= 0:
                stop = "negative_curvature"
                if iterations == 1:
                    x = x + (rs / curvature.abs().clamp(min=1e-30)) * d
                    r = v - hvp(x)
                    rs = r.dot(r)
                break
            step = rs / curvature
            x = x + step * d
            r = r - step * hd
            rs_new = r.dot(r)
            d = r + (rs_new / rs) * d
            rs = rs_new
        residual = float((v - hvp(x)).norm() / v_norm)  # the recurrence's value drifts in float32
        info = {"iterations": iterations, "residual": residual, "stop": stop}
        return x, info, {**state, "solution": x.detach()}


@dataclass
class DenseSolver:
    """Build the (small) damped Hessian explicitly and solve exactly; for last-layer problems.

    The solve uses the symmetric eigendecomposition and drops eigenvalues below
    ``rcond * max |eigenvalue|``: a softmax head without weight decay has an exact null space
    (adding one vector to every class's weights changes nothing), and the validation gradient
    is orthogonal to it, so the minimum-norm solution is the exact one. Building the Hessian
    costs one product per parameter and the factorization grows with the cube of the size,
    so ``max_size`` refuses what would not fit (:class:`LastLayerSolver` switches to MINRES).
    """

    max_size: int = 4096
    rcond: float = 1e-10

    def __call__(self, hvp: HessianOperator, v: torch.Tensor, state: dict[str, Any]):
        if hvp.size > self.max_size:
            raise InputError(
                f"dense solve over {hvp.size} parameters exceeds max_size={self.max_size}; "
                "restrict the Hessian further or use the minres or cg method"
            )
        h = hvp.dense()
        h = (h + h.T) / 2
        factor, not_pd = torch.linalg.cholesky_ex(h)
        info: dict[str, Any] = {"iterations": 1, "hessian_size": hvp.size, "path": "dense"}
        if int(not_pd) == 0:
            p = torch.cholesky_solve(v[:, None], factor)[:, 0]
            info["factorization"] = "cholesky"
        else:
            eigvals, eigvecs = torch.linalg.eigh(h)
            keep = eigvals.abs() > self.rcond * eigvals.abs().max()
            p = eigvecs[:, keep] @ ((eigvecs[:, keep].T @ v) / eigvals[keep])
            info.update(factorization="eigh", rank=int(keep.sum()))
        info["residual"] = float((h @ p - v).norm() / v.norm().clamp(min=1e-30))
        return p, info, state


@dataclass
class MinresSolver:
    """MINRES (Paige and Saunders 1975) on (H + damping I) p = v, matrix-free.

    Unlike CG it needs no definiteness: it minimizes the residual over the Krylov space, so an
    indefinite Hessian (a cosine head, a head far from its optimum) is solved, not abandoned.
    Started from zero on a singular but consistent system (a softmax head without weight decay)
    it converges to the minimum-norm solution, the one :class:`DenseSolver` returns. On an
    inconsistent singular system it diverges along the null space (so does scipy's): a head
    without weight decay whose learned logit scales differ is such a system (its null space is
    no longer orthogonal to the validation gradient), so keep ``damping`` > 0 there (the
    search's default: the weight decay). Written on
    tensors so that it runs on the parameters' device; scipy's version is the reference in the
    tests. ``residual`` is the true relative residual, from one more product at the end.
    """

    max_iter: int = 100
    tol: float = 1e-6

    def __call__(self, hvp: HessianOperator, v: torch.Tensor, state: dict[str, Any]):
        p, iterations, stop = minres(hvp, v, self.max_iter, self.tol)
        residual = float((hvp(p) - v).norm() / v.norm().clamp(min=1e-30))
        info = {"iterations": iterations, "residual": residual, "stop": stop,
                "hessian_size": hvp.size, "path": "minres"}
        return p, info, state


def minres(operator, b: torch.Tensor, max_iter: int, tol: float) -> tuple[torch.Tensor, int, str]:
    """x ~ A^-1 b for a symmetric operator A, from x = 0; stops when the recurrence's residual
    estimate falls to ``tol * |b|``. Returns (x, iterations, stop reason)."""
    x = torch.zeros_like(b)
    beta1 = float(b.norm())
    if beta1 == 0.0:
        return x, 0, "tolerance"
    r1, r2, y = b.clone(), b.clone(), b.clone()
    w, w2 = torch.zeros_like(b), torch.zeros_like(b)
    old_beta, beta, phibar = 0.0, beta1, beta1
    dbar, epsilon, cs, sn = 0.0, 0.0, -1.0, 0.0
    tiny = torch.finfo(b.dtype).eps
    for iteration in range(1, max_iter + 1):
        v = y / beta
        y = operator(v)
        if iteration >= 2:
            y = y - (beta / old_beta) * r1
        alpha = float(v.dot(y))
        y = y - (alpha / beta) * r2
        r1, r2 = r2, y
        old_beta, beta = beta, float(y.norm())
        old_epsilon = epsilon
        delta = cs * dbar + sn * alpha
        gbar = sn * dbar - cs * alpha
        epsilon, dbar = sn * beta, -cs * beta
        gamma = max(math.hypot(gbar, beta), tiny)
        cs, sn = gbar / gamma, beta / gamma
        phi, phibar = cs * phibar, sn * phibar
        w1, w2 = w2, w
        w = (v - old_epsilon * w1 - delta * w2) / gamma
        x = x + phi * w
        if phibar <= tol * beta1:
            return x, iteration, "tolerance"
        if beta <= tiny * beta1:
            return x, iteration, "krylov_exhausted"
    return x, max_iter, "max_iter"


@dataclass
class LastLayerSolver:
    """The head's solve: exact and dense while the head is small, matrix-free MINRES beyond.

    A dense solve builds the Hessian from one product per head parameter plus a cubic
    factorization; MINRES costs ``iterations`` products, each a backward through the head
    alone (the network below it is constant), so its cost does not grow with the head beyond
    a few passes over the batch's features. ``dense_max_size`` is the crossover measured by
    ``scripts/bench_hypergrad.py --heads``; diagnostics name the ``path`` that ran.
    """

    dense_max_size: int = 2048
    max_iter: int = 50
    tol: float = 1e-5
    rcond: float = 1e-10

    def __call__(self, hvp: HessianOperator, v: torch.Tensor, state: dict[str, Any]):
        if hvp.size <= self.dense_max_size:
            return DenseSolver(self.dense_max_size, self.rcond)(hvp, v, state)
        return MinresSolver(self.max_iter, self.tol)(hvp, v, state)
