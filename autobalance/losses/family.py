"""The learnable loss family  -w_{g,y} * log softmax(s(Delta_g) * z + l_g)_y, with optional
per-class augmentation strengths acting on the inputs, per-class label smoothing (the target
(1 - eps_{g,y}) e_y + eps_{g,y} / K) and a learned weight decay per classifier row
(:mod:`autobalance.losses.regularizer`).

Each part (scales, offsets, weights, and the augmentation's magnitudes) is a (group x cluster)
table that is either a learnable ``nn.Parameter`` or a fixed buffer, so ``loss.parameters()``
are exactly the hyperparameters.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from autobalance.class_attributes import standardized
from autobalance.config import SMOOTHING_MAX, require, require_choice
from autobalance.errors import InputError
from autobalance.losses.augmentation import MAX_RATIO, LearnedAugmentation, resolve_bounds
from autobalance.losses.base import ClassificationLoss
from autobalance.losses.clustering import cluster_means, frequency_clusters
from autobalance.losses.functional import cross_entropy, log_softmax
from autobalance.losses.power_law import PARAMETRIZATIONS, fit_coefficients, fit_exponents, log_relative_frequency
from autobalance.losses.regularizer import DECAY_MAX_RATIO, ClassifierDecay, initial_raw
from autobalance.registry import Registry

PARTS = ("scales", "offsets", "weights")
REGULARIZERS = ("weight_decay", "label_smoothing")
LEARNABLE = (*PARTS, "augment", *REGULARIZERS)
AUGMENT_INIT = 0.1
"""Default starting magnitude of an augmentation operation, as a fraction of its bound."""
SIGMOID_REFERENCE = float(torch.sigmoid(torch.tensor(1.0)))


@dataclass(frozen=True)
class ScaleMap:
    """How a raw parameter becomes a positive logit scale, and back."""

    forward: Callable[[torch.Tensor], torch.Tensor]
    inverse: Callable[[torch.Tensor], torch.Tensor]


def _sigmoid_inverse(scale: torch.Tensor) -> torch.Tensor:
    """The sigmoid map cannot reach 1, so relative scales r (max 1) are placed at sigmoid(1) * r,
    the official code's initial value (Delta = 1)."""
    s = (scale * SIGMOID_REFERENCE / scale.max()).clamp(1e-6, 1 - 1e-6)
    return torch.log(s) - torch.log1p(-s)


SCALE_MAPS: Registry[ScaleMap] = Registry("search.family.scale_map")
"""Scale maps by name: ``exp`` (exact CE at raw 0), ``softplus``, ``sigmoid`` (the official code's)."""
SCALE_MAPS.register("sigmoid")(ScaleMap(torch.sigmoid, _sigmoid_inverse))
SCALE_MAPS.register("softplus")(ScaleMap(F.softplus, lambda scale: scale + torch.log(-torch.expm1(-scale))))
SCALE_MAPS.register("exp")(ScaleMap(torch.exp, torch.log))


def scale_forward(raw: torch.Tensor, scale_map: str) -> torch.Tensor:
    return SCALE_MAPS[scale_map].forward(raw)


def scale_inverse(scale: torch.Tensor, scale_map: str) -> torch.Tensor:
    """Raw parameter giving ``scale``."""
    return SCALE_MAPS[scale_map].inverse(scale)


def _full(value, num_classes: int):
    """A number as a per-class list; tables pass through."""
    return [float(value)] * num_classes if isinstance(value, int | float) else value


def _table(values: torch.Tensor | Sequence[float] | None, default: float, groups: int,
           classes: int) -> torch.Tensor:
    if values is None:
        return torch.full((groups, classes), default, dtype=torch.float64)
    t = torch.as_tensor(values, dtype=torch.float64)
    if t.ndim == 1:
        t = t.expand(groups, -1)
    if t.shape != (groups, classes):
        raise ValueError(f"initial values have shape {tuple(t.shape)}, expected ({groups}, {classes})")
    return t.clone()


def check_family_settings(learn: Sequence[str], scale_map: str, cluster_size: int, parametrization: str,
                          prefix: str = "") -> None:
    """The family's settings that every use of it refuses, checked once: the configuration
    (``prefix="search.family."``, before any data is loaded) and :class:`ParametricLoss` call it."""
    require(set(learn) <= set(LEARNABLE), f"{prefix}learn", list(learn), f"a subset of {', '.join(LEARNABLE)}")
    require_choice(f"{prefix}scale_map", scale_map, SCALE_MAPS.names())
    require_choice(f"{prefix}parametrization", parametrization, PARAMETRIZATIONS)
    if parametrization in ("power_law", "attributes"):
        require(cluster_size == 1 and scale_map == "exp", f"{prefix}parametrization", parametrization,
                f"per_class with {prefix}cluster_size={cluster_size} and {prefix}scale_map={scale_map!r} "
                f"({parametrization} needs cluster_size 1 and scale_map exp)")
    if parametrization == "attributes":
        require(not set(learn) & {"augment", *REGULARIZERS}, f"{prefix}learn", list(learn),
                "scales, offsets and weights with parametrization attributes (the map gives those three parts)")


class ParametricLoss(ClassificationLoss):
    """Logit scales, logit offsets and loss weights per class (x group), optionally clustered.

    Args:
        num_classes: K.
        num_attribute_values: G; each part becomes a (G, K) table selected by the example's group.
        learn: which parts are learnable, a subset of ("scales", "offsets", "weights", "augment").
        scale_map: "exp" (default, exact CE at scale 1), "softplus" or "sigmoid" (official).
        scales, offsets, weights: initial per-class values, shape (K,) or (G, K).
        counts, cluster_size: with cluster_size > 1, classes sorted by ``counts`` share values
            in clusters of that many consecutive classes.
        augment_ops: augmentation operations (:mod:`autobalance.losses.augmentation`) applied
            to training inputs by :meth:`augment_inputs`; none by default.
        augment: initial magnitudes by operation, a number or a (K,) / (G, K) table
            (default ``augment_init`` of each operation's bound).
        augment_init: the starting magnitude of operations ``augment`` leaves out, as a
            fraction of their bound.
        augment_bounds: the largest magnitude of each operation (default
            :data:`autobalance.losses.augmentation.BOUNDS`).
        augment_max_ratio: the largest ratio between two classes' learned magnitudes of one
            operation, which bounds the label shortcut the augmentation offers
            (:mod:`autobalance.losses.augmentation`); ``None`` leaves them free.
        parametrization: "per_class" (a value per class, or per cluster) or "power_law" (one
            exponent per group and part times log(n_k / n_max), :mod:`autobalance.losses.power_law`;
            needs ``counts`` and the exp scale map; the initial tables are projected onto it), or
            "attributes" (per group and part, a linear map from ``class_attributes`` and an
            intercept; the initial tables are projected onto it, exactly for LA's, VS's and CE's).
        class_attributes: with "attributes", the (A, K) per-class attributes
            (:func:`autobalance.class_attributes.attribute_matrix`), named by ``attribute_names``.
        measured_attributes: with "attributes", the attributes whose rows of ``class_attributes``
            are zeros to be filled by :meth:`set_attribute` (a search measures them on its model
            as its hyper-steps begin).
        map_hidden: with "attributes", H > 0 adds to each part's linear map a two-layer map,
            ``out @ tanh(hidden @ attributes)`` with H hidden units (``hidden`` drawn from a fixed
            seed, ``out`` zero: the start is the linear map's exactly), learned with the part.
        label_smoothing: initial smoothing per class, a (K,) / (G, K) table in [0, smoothing_max);
            the part exists when given or learned (none: exactly plain CE's targets). Its map is
            ``smoothing_max * tanh(raw)`` with raw kept >= 0 by :meth:`project_`; under the power
            law raw is one exponent times log(n_k / n_min), so head classes are smoothed more
            (label-aware smoothing's shape) and the rarest class not at all.
        decay_reference: the decay the learned weight decay is centred on (the optimizer's,
            ``optim.weight_decay``, for a search: its start is then exactly today's training).
        weight_decay, weight_decay_rest: initial decays of the classifier's rows (K,) and of the
            rest of the network; the part exists when given or learned.
        decay_max_ratio, smoothing_max: the bounds of the two maps.

    Offsets are centered to mean zero per group (softmax is shift-invariant); weights are
    positive and normalized to mean one over the table.
    """

    def __init__(
        self,
        num_classes: int,
        num_attribute_values: int = 1,
        learn: Sequence[str] = ("scales", "offsets"),
        scale_map: str = "exp",
        scales: torch.Tensor | Sequence[float] | None = None,
        offsets: torch.Tensor | Sequence[float] | None = None,
        weights: torch.Tensor | Sequence[float] | None = None,
        counts: Sequence[int] | None = None,
        cluster_size: int = 1,
        augment_ops: Sequence[str] = (),
        augment: Mapping[str, float | torch.Tensor | Sequence] | None = None,
        augment_init: float = AUGMENT_INIT,
        augment_bounds: Mapping[str, float] | None = None,
        augment_max_ratio: float | None = MAX_RATIO,
        parametrization: str = "per_class",
        label_smoothing: torch.Tensor | Sequence[float] | None = None,
        smoothing_max: float = SMOOTHING_MAX,
        decay_reference: float | None = None,
        weight_decay: torch.Tensor | Sequence[float] | None = None,
        weight_decay_rest: float | None = None,
        decay_max_ratio: float = DECAY_MAX_RATIO,
        class_attributes: torch.Tensor | None = None,
        attribute_names: Sequence[str] = (),
        map_hidden: int = 0,
        measured_attributes: Sequence[str] = (),
    ) -> None:
        super().__init__()
        check_family_settings(learn, scale_map, cluster_size, parametrization)
        if parametrization == "attributes" and (class_attributes is None or class_attributes.shape[-1] != num_classes):
            raise InputError(f"parametrization='attributes' needs class_attributes, an (A, {num_classes}) matrix; "
                             f"got {None if class_attributes is None else tuple(class_attributes.shape)}")
        if parametrization == "attributes" and (label_smoothing is not None or weight_decay is not None):
            raise InputError("parametrization='attributes' maps scales, offsets and weights; label smoothing and "
                             "a row weight decay are per_class or power_law parts")
        if "augment" in learn and not augment_ops:
            raise InputError("learning 'augment' needs augment_ops: which operations to apply")
        if (cluster_size > 1 or parametrization == "power_law") and counts is None:
            raise InputError(f"cluster_size={cluster_size}, parametrization={parametrization!r}: needs the "
                             "training counts (counts=...) to order the classes")
        power_law = parametrization == "power_law"
        self.parametrization = parametrization
        self.num_classes, self.num_attribute_values, self.scale_map = num_classes, num_attribute_values, scale_map
        self.learn = tuple(p for p in LEARNABLE if p in learn)
        cluster = (frequency_clusters(counts, cluster_size) if cluster_size > 1
                   else torch.arange(num_classes))
        self.register_buffer("cluster", cluster)
        self.cluster_size = cluster_size
        if power_law:
            self.register_buffer("log_frequency", log_relative_frequency(counts).float())
        self.attribute_names = ()
        if parametrization == "attributes":  # an intercept first: the scales' level (the other parts ignore it)
            given = torch.as_tensor(class_attributes, dtype=torch.float32)
            self.register_buffer("class_attributes", torch.cat([torch.ones(1, num_classes), given]))
            self.attribute_names = ("intercept", *(attribute_names or map(str, range(len(given)))))
            if measured_attributes:  # zero rows until the search measures them (their coefficients start at 0)
                self.register_buffer("attribute_pending", torch.tensor(
                    [name in measured_attributes for name in self.attribute_names]))
        init = {
            "scales": scale_inverse(_table(scales, 1.0, num_attribute_values, num_classes), scale_map),
            "offsets": _table(offsets, 0.0, num_attribute_values, num_classes),
            "weights": _table(weights, 1.0, num_attribute_values, num_classes).log(),
        }
        for part, raw_per_class in init.items():
            if power_law:
                raw = fit_exponents(raw_per_class, self.log_frequency.double(), shift_invariant=part != "scales")
            elif parametrization == "attributes":
                raw = fit_coefficients(raw_per_class, self.class_attributes.double(), shift_invariant=part != "scales")
            else:
                raw = cluster_means(raw_per_class, cluster)
            raw = raw.float()
            if part in self.learn:
                setattr(self, f"raw_{part}", nn.Parameter(raw))
            else:
                self.register_buffer(f"raw_{part}", raw)
        self._init_hidden_map(map_hidden)
        self._init_smoothing(label_smoothing, smoothing_max, counts)
        self._init_decay(decay_reference, weight_decay, weight_decay_rest, decay_max_ratio)
        self.augmentation = None
        if augment_ops:
            given, bounds = dict(augment or {}), resolve_bounds(augment_bounds)
            initial = {op: _table(_full(given.get(op, augment_init * bounds.get(op, 1.0)), num_classes),
                                  0.0, num_attribute_values, num_classes) for op in augment_ops}
            self.augmentation = LearnedAugmentation(augment_ops, initial, cluster, "augment" in self.learn,
                                                    augment_bounds, augment_max_ratio)

    def pending_attributes(self) -> list[str]:
        """The measured class attributes still waiting for their values."""
        pending = getattr(self, "attribute_pending", None)
        return [] if pending is None else [n for n, p in zip(self.attribute_names, pending.tolist(), strict=True) if p]

    @torch.no_grad()
    def set_attribute(self, name: str, values: Sequence[float]) -> None:
        """Fill the pending attribute ``name`` with ``values`` (standardized over the classes; left
        at zero when they are all equal). Its coefficients and hidden map outputs are still zero
        before the first hyper-step, so the loss's values do not change."""
        if name not in self.pending_attributes():
            raise InputError(f"class attribute {name!r} is not waiting for values; "
                             f"pending: {self.pending_attributes()}")
        i = self.attribute_names.index(name)
        row = standardized(values)
        if row is not None:
            self.class_attributes[i] = row.to(self.class_attributes)
        self.attribute_pending[i] = False

    def _init_hidden_map(self, hidden_units: int) -> None:
        self.map_hidden = int(hidden_units)
        if not self.map_hidden:
            return
        if self.parametrization != "attributes":
            raise InputError(f"map_hidden={hidden_units} adds to the attribute map; expected parametrization "
                             f"'attributes', got {self.parametrization!r}")
        features = self.class_attributes.shape[0]
        generator = torch.Generator().manual_seed(0)
        for part in PARTS:
            hidden = torch.randn(self.map_hidden, features, generator=generator) / math.sqrt(features)
            out = torch.zeros(self.num_attribute_values, self.map_hidden)
            for name, value in ((f"map_hidden_{part}", hidden), (f"map_out_{part}", out)):
                if part in self.learn:
                    setattr(self, name, nn.Parameter(value))
                else:
                    self.register_buffer(name, value)

    def _init_smoothing(self, values, smoothing_max: float, counts) -> None:
        self.smoothing_max = float(smoothing_max)
        if values is None and "label_smoothing" not in self.learn:
            self.raw_label_smoothing = None
            return
        if not 0 < smoothing_max < 1:
            raise InputError(f"smoothing_max={smoothing_max}; expected a number in (0, 1)")
        eps = _table(values, 0.0, self.num_attribute_values, self.num_classes)
        if bool((eps < 0).any()) or bool((eps >= smoothing_max).any()):
            raise InputError(f"label smoothing {eps.tolist()} outside [0, {smoothing_max}) (smoothing_max)")
        raw = torch.atanh(eps / smoothing_max)
        if self.parametrization == "power_law":
            self.register_buffer("smoothing_shape", (self.log_frequency - self.log_frequency.min()).float())
            raw = fit_exponents(raw, self.smoothing_shape.double(), shift_invariant=False).clamp_min(0)
        else:
            raw = cluster_means(raw, self.cluster)
        if "label_smoothing" in self.learn:
            self.raw_label_smoothing = nn.Parameter(raw.float())
        else:
            self.register_buffer("raw_label_smoothing", raw.float())

    def _init_decay(self, reference, rows, rest, max_ratio: float) -> None:
        learn = "weight_decay" in self.learn
        if rows is None and rest is None and not learn:
            self.regularizer = None
            return
        if reference is None:
            raise InputError("a learned weight decay needs decay_reference (the optimizer's weight decay)")
        raw_rows = initial_raw(rows, reference, max_ratio, self.num_classes)
        shape = None
        if self.parametrization == "power_law":
            shape = self.log_frequency
            raw_rows = fit_exponents(raw_rows, shape.double(), shift_invariant=False)
        else:
            raw_rows = cluster_means(raw_rows, self.cluster)
        raw_rest = initial_raw(None if rest is None else [rest], reference, max_ratio, 1)
        self.regularizer = ClassifierDecay(self.num_classes, reference, raw_rows, raw_rest, self.cluster, shape,
                                           learn, max_ratio)

    def project_(self) -> None:
        """Put the parameters back on their domain after an outer step (smoothing's raw >= 0)."""
        if isinstance(self.raw_label_smoothing, nn.Parameter):
            with torch.no_grad():
                self.raw_label_smoothing.clamp_(min=0)

    def penalty(self, params, applied: float) -> torch.Tensor | None:
        """The learned weight decay's penalty on the model's ``params`` beyond the ``applied``
        decay of the optimizer (:class:`~autobalance.losses.regularizer.ClassifierDecay`); None
        without the part."""
        return None if self.regularizer is None else self.regularizer(params, applied)

    def augment_inputs(self, x: torch.Tensor, targets: torch.Tensor,
                       groups: torch.Tensor | None = None) -> torch.Tensor:
        return x if self.augmentation is None else self.augmentation(x, targets, groups)

    def _expand(self, part: str) -> torch.Tensor:
        """A part's stored (G, clusters) values, (G, 1) exponents or (G, A) coefficients (and its
        two-layer map's weights), as a (G, K) table."""
        raw = getattr(self, f"raw_{part}")
        if self.parametrization == "attributes":
            table = raw @ self.class_attributes
            if self.map_hidden:
                hidden = torch.tanh(getattr(self, f"map_hidden_{part}") @ self.class_attributes)
                table = table + getattr(self, f"map_out_{part}") @ hidden
            return table
        return raw * self.log_frequency if self.parametrization == "power_law" else raw[:, self.cluster]

    def coefficients(self) -> dict[str, dict[str, list[float]]]:
        """With the attribute map: each part's coefficients per group, by attribute; else empty."""
        if self.parametrization != "attributes":
            return {}
        return {part: {name: getattr(self, f"raw_{part}").detach()[:, i].tolist()
                       for i, name in enumerate(self.attribute_names)} for part in PARTS}

    def hidden_map(self) -> dict[str, dict[str, list]]:
        """With ``map_hidden``: each part's two-layer map, ``hidden`` (H, A) over the attributes
        (intercept first) and ``out`` (G, H); else empty."""
        return {part: {"hidden": getattr(self, f"map_hidden_{part}").detach().tolist(),
                       "out": getattr(self, f"map_out_{part}").detach().tolist()}
                for part in PARTS} if self.map_hidden else {}

    def exponents(self) -> dict[str, torch.Tensor]:
        """The power-law exponents (one per group) of scales, offsets and weights: gamma of
        (n_k / n_max)^gamma, tau of tau * log pi_k and -beta of n_k^-beta; empty per class."""
        if self.parametrization != "power_law":
            return {}
        exponents = {part: getattr(self, f"raw_{part}").detach()[:, 0] for part in PARTS}
        if self.raw_label_smoothing is not None:
            exponents["label_smoothing"] = self.raw_label_smoothing.detach()[:, 0]
        if self.regularizer is not None:
            exponents["weight_decay"] = self.regularizer.raw_rows.detach()[:, 0]
        return exponents

    def scales(self) -> torch.Tensor:
        """Effective (G, K) logit scales."""
        return scale_forward(self._expand("scales"), self.scale_map)

    def offsets(self) -> torch.Tensor:
        """Effective (G, K) logit offsets, mean zero per group."""
        offsets = self._expand("offsets")
        return offsets - offsets.mean(dim=1, keepdim=True)

    def weights(self) -> torch.Tensor:
        """Effective (G, K) loss weights, positive with mean one."""
        w = self._expand("weights").exp()
        return w / w.mean()

    def label_smoothing(self) -> torch.Tensor:
        """Effective (G, K) label smoothing, in [0, smoothing_max); zeros without the part."""
        if self.raw_label_smoothing is None:
            return torch.zeros(self.num_attribute_values, self.num_classes, device=self.cluster.device)
        raw = self.raw_label_smoothing
        raw = raw * self.smoothing_shape if self.parametrization == "power_law" else raw[:, self.cluster]
        return self.smoothing_max * torch.tanh(raw)

    def adjusted_logits(self, logits: torch.Tensor, groups: torch.Tensor | None) -> torch.Tensor:
        g = self._group_index(logits, groups)
        return self.scales().to(logits.dtype)[g] * logits + self.offsets().to(logits.dtype)[g]

    def per_example(self, logits, targets, groups=None):
        g = self._group_index(logits, groups)
        adjusted = self.adjusted_logits(logits, groups)
        if self.raw_label_smoothing is None:
            ce = cross_entropy(adjusted, targets)
        else:
            log_p = log_softmax(adjusted, 1)
            eps = self.label_smoothing().to(logits.dtype)[g, targets]
            ce = -(1 - eps) * log_p.gather(1, targets[:, None]).squeeze(1) - eps * log_p.mean(1)
        return self.weights().to(logits.dtype)[g, targets] * ce

    def _group_index(self, logits: torch.Tensor, groups: torch.Tensor | None) -> torch.Tensor:
        if groups is None or self.num_attribute_values == 1:
            return torch.zeros(len(logits), dtype=torch.long, device=logits.device)
        return groups

    def values(self) -> dict[str, torch.Tensor]:
        """Detached effective per-class tables, for logging and export (augmentation magnitudes
        as ``augment_<op>``)."""
        with torch.no_grad():
            tables = {"scales": self.scales(), "offsets": self.offsets(), "weights": self.weights()}
            if self.augmentation is not None:
                tables.update({f"augment_{op}": t for op, t in self.augmentation.magnitudes().items()})
            if self.raw_label_smoothing is not None:
                tables["label_smoothing"] = self.label_smoothing()
            if self.regularizer is not None:
                tables.update(weight_decay=self.regularizer.rows(), weight_decay_rest=self.regularizer.rest())
            return tables

    def is_learned(self, table: str) -> bool:
        """Whether a table of :meth:`values` is learned (``augment_<op>`` under ``augment``,
        ``weight_decay_rest`` under ``weight_decay``)."""
        part = ("augment" if table.startswith("augment_") else
                "weight_decay" if table == "weight_decay_rest" else table)
        return part in self.learn

    def learned_values(self) -> dict[str, torch.Tensor]:
        """Detached effective (G, clusters) tables of the learned parts: one column per cluster
        (per class without clustering), the size of a hyper-step trace at any K."""
        classes = torch.arange(self.num_classes, device=self.cluster.device)
        representative = torch.full((int(self.cluster.max()) + 1,), self.num_classes,
                                    device=self.cluster.device).scatter_reduce(0, self.cluster, classes, "amin")
        return {name: table[:, representative] if table.shape[-1] == self.num_classes else table
                for name, table in self.values().items() if self.is_learned(name)}


def mean_loss(losses: Sequence[ParametricLoss]) -> ParametricLoss:
    """One loss from several of the same shape (cross-fitted searches): every table averaged in
    the space it is stored in, as :meth:`BilevelSearch.frozen_loss` averages a search's last
    values: offsets arithmetically, scales, weights and magnitudes in their raw (log or logit)
    space."""
    mean = copy.deepcopy(losses[0])
    states = [loss.state_dict() for loss in losses]
    averaged = {k: torch.stack([s[k] for s in states]).mean(0) if v.is_floating_point() else v
                for k, v in states[0].items()}
    mean.load_state_dict(averaged)
    return mean
