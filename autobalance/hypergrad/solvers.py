"""Approximate solvers for (H + damping I) p = v, each a function of an HVP operator.

Every solver returns (p, info, state); ``state`` carries what the next call may reuse
(CG's previous solution, the power-iteration eigenvector).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

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

    Stops at relative residual ``tol`` or ``max_iter`` products. A direction of non-positive
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
        iterations, stop = 0, "max_iter"
        while iterations < self.max_iter:
            if rs.sqrt() / v_norm <= self.tol:
                stop = "tolerance"
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
        residual = float(rs.sqrt() / v_norm)
        info = {"iterations": iterations, "residual": residual, "stop": stop}
        return x, info, {**state, "solution": x.detach()}


@dataclass
class DenseSolver:
    """Build the (small) damped Hessian explicitly and solve exactly; for last-layer problems.

    The solve uses the symmetric eigendecomposition and drops eigenvalues below
    ``rcond * max |eigenvalue|``: a softmax head without weight decay has an exact null space
    (adding one vector to every class's weights changes nothing), and the validation gradient
    is orthogonal to it, so the minimum-norm solution is the exact one.
    """

    max_size: int = 4096
    rcond: float = 1e-10

    def __call__(self, hvp: HessianOperator, v: torch.Tensor, state: dict[str, Any]):
        if hvp.size > self.max_size:
            raise ValueError(
                f"dense solve over {hvp.size} parameters exceeds max_size={self.max_size}; "
                "restrict the Hessian further or use the cg method"
            )
        h = hvp.dense()
        h = (h + h.T) / 2
        factor, not_pd = torch.linalg.cholesky_ex(h)
        info: dict[str, Any] = {"iterations": 1, "hessian_size": hvp.size}
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
