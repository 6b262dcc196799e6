"""A search that climbs its own validation objective backs off, and never exports what it climbed to.

The objective a search minimizes is evaluated at every hyper-step on fresh validation batches
(``val_loss`` in its records). While the model trains that value falls or holds; a hypergradient
that is not a descent direction for the model being trained (an implicit gradient at a point the
network is not at, an outer learning rate far too large) makes it climb. Two checks:

- back-off: the mean of the latest ``window / 2`` values above the mean of the ``window / 2``
  before them by more than ``rise`` (relative), a non-finite value, or the latest ``window / 2``
  above the lowest mean of ``window / 2`` since the last back-off by more than ``drawdown`` (a
  slow, steady climb, which never rises by ``rise`` between neighbouring half-windows) rejects the
  climb: the search returns to the loss it had where that lowest mean ended (:attr:`best_at`) and
  multiplies the outer learning rate by ``backoff``, or by less when the objective rose by a
  larger factor (a trust region that shrinks with the damage); the comparison then starts afresh;
- export: a search of at least ``window`` hyper-steps whose last ``window / 2`` values lie above
  its first ``window / 2`` by more than ``climb`` exports the loss it started from, not the one it
  climbed to.

The defaults come from the committed traces: in 35 searches on Fashion-MNIST-LT at interpolation
and 6 on CIFAR-10-LT that behaved, the largest rise between consecutive half-windows of 10 was
29 % and 15 % (validation batches are noisy) and a whole search moved its objective by -48 % to
+6 %; the CIFAR-10-LT search that ran away (issue 29) climbed by 82 %. Replayed through this
guard (``scripts/guard_replay.py``, ``experiments/guard/``), no committed search that behaved
has its latest half-window of 10 more than 54 % above the lowest before it; the
Fashion-MNIST-LT search of scale and weight exponents that ran away (the richer-family study,
seed 4: validation balanced error 44 %) reached 166 %, and 75 % at its 111th of 170 hyper-steps,
with no neighbouring half-windows 50 % apart.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


@dataclass
class ObjectiveGuard:
    window: int = 20
    rise: float = 0.5
    climb: float = 0.25
    backoff: float = 0.5
    drawdown: float = 0.75
    values: list[float] = field(default_factory=list)
    since: int = 0
    """Index of the first value the next comparison may use (after a back-off)."""
    backoffs: int = 0
    compared: int = 0
    """How many hyper-steps the last comparison spanned."""
    lowest: float = math.inf
    """The lowest mean of ``window / 2`` consecutive values since the last back-off."""
    best_at: int | None = None
    """How many values had been observed when that lowest mean ended (None before the first)."""
    reason: str = ""
    """Why the last back-off came, in words."""

    def observe(self, value: float) -> float:
        """Record one hyper-step's objective; the factor to multiply the outer learning rate by
        (1: no back-off; ``backoff``, or less when the objective rose by a larger factor)."""
        self.values.append(value)
        half = self.window // 2
        recent = self.values[self.since:][-self.window:]
        older = self.values[self.since:len(self.values) - half]
        if len(older) >= half and math.isfinite(mean := statistics.fmean(older[-half:])) and mean < self.lowest:
            self.lowest, self.best_at = mean, len(self.values) - half
        if math.isfinite(value) and len(recent) < self.window:
            return 1.0
        before = statistics.fmean([v for v in recent[:-half] if math.isfinite(v)] or [math.nan])
        latest = statistics.fmean(recent[-half:])
        self.compared = len(recent)
        rose = latest > before + self.rise * abs(before)
        drew_down = latest > self.lowest + self.drawdown * abs(self.lowest)
        if math.isfinite(value) and not (rose or drew_down):
            return 1.0
        reference = self.lowest if drew_down and not rose else before
        self.reason = (f"non-finite ({value})" if not math.isfinite(value) else
                       f"rose by more than {self.rise:.0%} over the last {len(recent)} hyper-steps" if rose else
                       f"climbed by more than {self.drawdown:.0%} above its lowest mean of {half} hyper-steps "
                       f"({self.lowest:.4g})")
        ratio = abs(reference) / abs(latest) if math.isfinite(latest) and math.isfinite(reference) and latest else 0.0
        self.backoffs += 1
        self.since, self.lowest = len(self.values), math.inf
        return self.backoff * min(1.0, max(ratio, 1e-6))

    def climbed(self) -> tuple[float, float, int] | None:
        """(first, last, n): means of the objective over the search's first and last n = ``window / 2``
        hyper-steps, when it rose by more than ``climb``; None otherwise, and for a search of fewer
        than ``window`` hyper-steps (too short to tell a climb from the noise of its batches)."""
        if len(self.values) < self.window:
            return None
        half = self.window // 2
        first, last = statistics.fmean(self.values[:half]), statistics.fmean(self.values[-half:])
        return (first, last, half) if not last <= first + self.climb * abs(first) else None

    def state_dict(self) -> dict:
        return {"values": self.values, "since": self.since, "backoffs": self.backoffs, "lowest": self.lowest,
                "best_at": self.best_at}

    def load_state_dict(self, state: dict) -> None:
        self.values, self.since, self.backoffs = list(state["values"]), state["since"], state["backoffs"]
        self.lowest, self.best_at = state["lowest"], state["best_at"]
