"""Group-robustness and fairness metrics of predictions on data with a sensitive attribute.

A *group* is a (class, attribute) cell, as the group-robustness field defines it (Sagawa et al.
2020): Waterbirds' four groups are its two labels on its two backgrounds; elsewhere in the code a
group is called a *cell*. The data's attribute column (``data.attribute_column``) holds the
attribute ``a``; the per-attribute numbers are kept too, named as such.

Fairness gaps use per-cell recall ``r[a, c] = P(pred = c | y = c, a)`` and selection rate
``s[a, c] = P(pred = c | a)``, each gap a spread (max - min) over the attribute values:

- ``deo``: the sum over classes of the recall spreads, the difference of equal opportunity of
  the AutoBalance paper (binary: |TPR gap| + |FPR gap|);
- ``equalized_odds_difference``: the largest recall spread over classes (binary: fairlearn's
  ``equalized_odds_difference``, max of the TPR and FPR gaps);
- ``demographic_parity_difference``: the largest selection-rate spread over classes (binary:
  fairlearn's ``demographic_parity_difference``).

Errors and gaps are in percent (points); tables are accuracies in [0, 1].
"""

from __future__ import annotations

import torch


def index_means(values: torch.Tensor, index: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of ``values`` (N, ...) per index in [0, size) along the first dimension (0 where an
    index has no example; differentiable in ``values``), and which indices are present."""
    sums = torch.zeros(size, *values.shape[1:], dtype=values.dtype, device=values.device).index_add(0, index, values)
    counts = torch.bincount(index, minlength=size)
    divisor = counts.clamp(min=1).to(values.dtype).reshape(size, *([1] * (values.ndim - 1)))
    return sums / divisor, counts > 0


def per_index_means(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Mean of ``values`` per index in [0, size); only indices present in the batch."""
    means, present = index_means(values, index, size)
    return means[present]


def rate_by(index: torch.Tensor, hits: torch.Tensor, size: int) -> torch.Tensor:
    """Mean of ``hits`` per index in [0, size); NaN where an index has no example."""
    means, present = index_means(hits.double(), index, size)
    return torch.where(present, means, torch.nan)


def attribute_spreads(table: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Per column (class) seen under at least two rows (attribute values): max - min over them."""
    high = torch.where(present, table, -torch.inf).amax(0)
    low = torch.where(present, table, torch.inf).amin(0)
    compared = present.sum(0) >= 2
    return high[compared] - low[compared]


def group_metrics(preds: torch.Tensor, targets: torch.Tensor, attributes: torch.Tensor,
                  num_classes: int, num_attributes: int) -> dict:
    """Per-cell, per-attribute and fairness metrics; cells absent from the data are left out."""
    preds, targets, attributes = preds.cpu(), targets.cpu(), attributes.cpu()
    correct = preds == targets
    k, a = num_classes, num_attributes
    per_attribute = rate_by(attributes, correct, a)
    recall = rate_by(attributes * k + targets, correct, a * k).reshape(a, k)
    selected = torch.nn.functional.one_hot(preds, k).double()
    selection = torch.stack([rate_by(attributes, selected[:, c], a) for c in range(k)], 1)
    cells = recall[~recall.isnan()]
    recall_gaps = attribute_spreads(recall, ~recall.isnan())
    selection_gaps = attribute_spreads(selection, ~selection.isnan())
    return {
        "per_group_accuracy": [[float(v) for v in row] for row in recall],
        "worst_group_error": 100.0 * (1.0 - float(cells.min())),
        "average_group_error": 100.0 * (1.0 - float(cells.mean())),
        "per_attribute_accuracy": [float(v) for v in per_attribute],
        "worst_attribute_error": 100.0 * (1.0 - float(per_attribute[~per_attribute.isnan()].min())),
        "deo": 100.0 * float(recall_gaps.sum()),
        "equalized_odds_difference": 100.0 * float(recall_gaps.max()) if len(recall_gaps) else 0.0,
        "demographic_parity_difference": 100.0 * float(selection_gaps.max()) if len(selection_gaps) else 0.0,
    }
