"""Typed configuration schema: the bottom layer, importing nothing of the package.

Every default lives here, once; ``__post_init__`` checks ranges and fails with one line
``key=value: expected ...``. Names of parts (models, losses, data sources, ...) are checked
against the parts' registries by :func:`autobalance.configure.load_config`, which merges Hydra's
YAML onto these dataclasses, and again when a part is built. Every section is also a plain
dataclass a library user can build.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from autobalance.errors import InputError

CLASS_BALANCED_BETA = 0.9999
"""beta of the class-balanced weights (1 - beta) / (1 - beta^n) (Cui et al. 2019), wherever used."""
DECAY_MAX_RATIO = 10.0
"""Default bound of a learned weight decay: within a factor 10 of the reference either way."""
SMOOTHING_MAX = 0.5
"""Default bound of a learned label smoothing (the family's eps = SMOOTHING_MAX * tanh(raw), raw >= 0)."""


class ConfigError(InputError):
    """A bad configuration value; the message is one line naming key, value and what is allowed."""


def require(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r}: expected {expected}")


def require_choice(key: str, value: Any, choices: tuple[str, ...]) -> None:
    require(value in choices, key, value, f"one of {', '.join(choices)}")




@dataclass
class SpuriousConfig:
    """``data.spurious``: the recipe of the spurious-correlation benchmarks
    (``autobalance.data.sources.spurious``): split sizes, the fraction of each training label
    whose attribute agrees with it, and the fraction of training examples with label 0."""

    train_size: int = 4800
    val_size: int = 1200
    test_size: int = 4000
    correlation: float = 0.95
    label_balance: float = 0.5
    fashion_path: str | None = None

    def __post_init__(self) -> None:
        for key in ("train_size", "val_size", "test_size"):
            require(getattr(self, key) >= 4, f"data.spurious.{key}", getattr(self, key), "an integer >= 4")
        require(0 <= self.correlation <= 1, "data.spurious.correlation", self.correlation, "in [0, 1]")
        require(0 < self.label_balance < 1, "data.spurious.label_balance", self.label_balance, "in (0, 1)")


@dataclass
class LabelNoiseConfig:
    """``data.label_noise``: class-conditional label noise on the training split (validation and
    test stay clean), drawn from the run's seed (:mod:`autobalance.data.label_noise`)."""

    rate: Any = 0.0
    """The probability that a training label of a class ``classes`` names is flipped: one number, or
    K numbers (a rate per class, ``classes`` then ignored)."""
    classes: Any = None
    """Which classes' labels flip: class names or indices, ``largest:N`` or ``smallest:N`` (by
    training count); null: every class."""
    flip_to: Any = "uniform"
    """``uniform`` (another class, chosen uniformly) or a mapping from a class to its confusable class."""


@dataclass
class DataConfig:
    name: str = "mnist1d"
    path: str | None = None
    test_path: str | None = None
    val_path: str | None = None
    """A validation file of your own (csv and npz: a small trusted set, or an official validation
    split), used in place of a split of the training file."""
    test_fraction: float = 0.2
    download: bool = False
    cache_dir: str = "~/.cache/autobalance"
    num_classes: int | None = None
    class_names: list[str] | None = None
    label_column: str = "label"
    attribute_column: str | None = None
    encoding: str | None = None
    """The text encoding of CSV files; null tries UTF-8, then Windows-1252, then Latin-1."""
    missing: str = "error"
    """Missing CSV cells: ``error`` (named by row and column), ``drop`` their rows, or ``mean`` (the
    training file's column mean; a categorical column's most frequent category)."""
    unknown_category: str = "ignore"
    """A category of a test or validation file that the training file lacks: ``ignore`` (encoded
    as all zeros) or ``error``."""
    num_samples: int = 15000
    test_per_class: int = 300
    test_subset: int | None = None
    profile: str = "exp"
    rho: float = 100.0
    n_max: int | None = None
    split: str = "stratified"
    val_fraction: float = 0.2
    val_per_class: int = 10
    augment: str = "none"
    augment_val: bool = False
    sampler: str = "shuffle"
    batch_size: int = 128
    eval_batch_size: int = 128
    spurious: SpuriousConfig = field(default_factory=SpuriousConfig)
    label_noise: LabelNoiseConfig = field(default_factory=LabelNoiseConfig)
    image_size: int = 64
    """Side of the square images Waterbirds and CelebA are resized to."""

    def __post_init__(self) -> None:

        require(self.rho >= 1, "data.rho", self.rho, "a number >= 1")
        require_choice("data.missing", self.missing, ("error", "drop", "mean"))
        require_choice("data.unknown_category", self.unknown_category, ("ignore", "error"))
        require(0 < self.val_fraction < 1, "data.val_fraction", self.val_fraction, "in (0, 1)")
        require(self.val_per_class >= 1, "data.val_per_class", self.val_per_class, ">= 1")
        require(self.batch_size >= 2, "data.batch_size", self.batch_size, "an integer >= 2")
        require(self.eval_batch_size >= 1, "data.eval_batch_size", self.eval_batch_size, ">= 1")
        require(self.n_max is None or self.n_max >= 1, "data.n_max", self.n_max, ">= 1 or null")
        require(self.num_classes is None or self.num_classes >= 2, "data.num_classes",
                self.num_classes, "an integer >= 2 or null")
        require(self.num_samples >= 100, "data.num_samples", self.num_samples, ">= 100")
        require(self.image_size >= 8, "data.image_size", self.image_size, "an integer >= 8")


@dataclass
class ModelConfig:
    """A model's settings: its name (``autobalance.models.MODELS``) and the classifier head's,
    which every model takes. Each registered model extends this with its body's own settings,
    their standard values and their checks (``autobalance.models.model_config`` builds them by name)."""

    name: str = "cnn1d"
    normalized_head: bool = False
    dropout: float = 0.0
    sync_batchnorm: bool = False
    """Under torchrun: BatchNorm statistics over all ranks' shards in training steps (CUDA only);
    false keeps per-rank statistics, as DDP does by default. Hyper-steps always use per-rank ones."""

    def __post_init__(self) -> None:
        require(0 <= self.dropout < 1, "model.dropout", self.dropout, "in [0, 1)")


@dataclass
class OptimConfig:
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    epochs: int = 30
    warmup_epochs: int = 0
    lr_schedule: str = "cosine"
    milestones: list[int] = field(default_factory=list)
    decay: float = 0.1

    def __post_init__(self) -> None:
        require(self.lr > 0, "optim.lr", self.lr, "a positive number")
        require(0 <= self.momentum < 1, "optim.momentum", self.momentum, "in [0, 1)")
        require(self.weight_decay >= 0, "optim.weight_decay", self.weight_decay, ">= 0")
        require(self.epochs >= 1, "optim.epochs", self.epochs, "an integer >= 1")
        require(0 <= self.warmup_epochs < self.epochs, "optim.warmup_epochs",
                self.warmup_epochs, f"in [0, optim.epochs={self.epochs})")
        require(0 < self.decay <= 1, "optim.decay", self.decay, "in (0, 1]")


@dataclass
class LossConfig:
    """A loss's settings: its name (``autobalance.losses.factory.LOSSES``). Each registered loss
    extends this with its own hyperparameters, their standard values and their checks
    (``autobalance.losses.factory.loss_config`` builds them by name)."""

    name: str = "ce"


@dataclass
class ScheduleConfig:
    name: str = "none"
    start_epoch: int | None = None
    beta: float = CLASS_BALANCED_BETA

    def __post_init__(self) -> None:
        require(self.start_epoch is None or self.start_epoch >= 0, "schedule.start_epoch",
                self.start_epoch, ">= 0 or null")
        require(0 <= self.beta < 1, "schedule.beta", self.beta, "in [0, 1)")

    def first_epoch(self, epochs: int) -> int:
        """The epoch the schedule switches on; null means 80% of training (160 of 200)."""
        return int(0.8 * epochs) if self.start_epoch is None else self.start_epoch


@dataclass
class LoggerConfig:
    name: str = "jsonl"
    project: str = "autobalance"
    mode: str = "offline"
    progress: bool = True

    def __post_init__(self) -> None:
        require_choice("logger.mode", self.mode, ("online", "offline", "disabled"))




@dataclass
class ObjectiveConfig:
    """The validation objective of the outer problem (``objective=<name>``). ``trade_off`` is
    ``(1 - fairness_weight) * accuracy + fairness_weight * fairness``, each part an objective's
    name; ``blend`` weighs any objectives by ``weights``."""

    name: str = "balanced_ce"
    temperature: float = 1.0
    final_temperature: float | None = None
    """Anneals the temperature geometrically from ``temperature`` to this over the search's
    hyper-step epochs (a sharper error surrogate as the search settles); null keeps it fixed."""
    cvar_alpha: float | None = None
    weights: dict[str, float] = field(default_factory=dict)
    accuracy: str = "balanced_ce"
    fairness: str = "deo"
    fairness_weight: float = 0.5
    class_weights: Any = None
    """Per-class costs of ``weighted_ce`` and of the ``weighted_error`` metric: a list of K numbers,
    or a mapping from class names (or indices) to weights, the classes it leaves out weighing 1."""

    def __post_init__(self) -> None:
        require(self.temperature > 0, "objective.temperature", self.temperature, "> 0")
        require(self.final_temperature is None or self.final_temperature > 0, "objective.final_temperature",
                self.final_temperature, "> 0 or null")
        require(self.cvar_alpha is None or 0 < self.cvar_alpha <= 1, "objective.cvar_alpha",
                self.cvar_alpha, "in (0, 1] or null")
        require(0 <= self.fairness_weight <= 1, "objective.fairness_weight", self.fairness_weight, "in [0, 1]")


@dataclass
class HypergradConfig:
    """``search.hypergrad``: how the hypergradient is computed (``autobalance.hypergrad``)."""

    method: str = "last_layer"
    options: dict[str, Any] = field(default_factory=dict)
    damping: float | None = None

    def __post_init__(self) -> None:
        require(self.damping is None or self.damping >= 0, "search.hypergrad.damping", self.damping,
                "a non-negative number or null (the weight decay)")


@dataclass
class FamilyConfig:
    """``search.family``: which parts of the loss family are learned and where they start."""

    learn: list[str] = field(default_factory=lambda: ["offsets"])
    scale_map: str = "exp"
    cluster_size: int = 1
    parametrization: str = "per_class"
    """``per_class`` (a value per class, or per cluster of ``cluster_size``), ``power_law`` (one
    exponent per part: scales (n_k / n_max)^gamma, offsets tau * log pi_k, weights n_k^-beta) or
    ``attributes`` (per part, a linear map from the class attributes ``attributes``)."""
    attributes: list[str] = field(default_factory=lambda: ["log_frequency"])
    """With ``parametrization: attributes``: the class attributes the map reads (log_frequency,
    noise_rate, class_weight, and difficulty and training_loss, measured on the searched model as
    its hyper-steps begin; :mod:`autobalance.class_attributes`)."""
    map_hidden: int = 0
    """With ``parametrization: attributes``: H > 0 adds a two-layer map with H hidden units (tanh)
    to each part's linear map, starting at zero (the linear map's start exactly)."""
    init: str = "la"
    init_tau: float = 1.0
    init_gamma: float = 0.2
    init_beta: float = CLASS_BALANCED_BETA
    init_path: str | None = None
    """With ``init: learned``: the learned-loss file the search starts from (an earlier search's
    ``learned_loss.yaml``, for rounds of search); its tables, projected onto this family."""
    augment_ops: list[str] | None = None
    """Per-class augmentation operations (translate, scale, noise) applied to training inputs;
    null: all that suit the input (images and 1-D inputs: all three; else noise) when ``learn``
    has ``augment``, none otherwise."""
    augment_init: float = 0.1
    """Starting magnitude of each augmentation operation, as a fraction of its bound."""
    augment_bounds: dict[str, float] = field(default_factory=dict)
    """Largest magnitudes replacing the defaults (translate 0.25, scale 0.3, noise 0.5)."""
    augment_max_ratio: float | None = 2.0
    """Largest ratio between two classes' learned magnitudes of one operation: the label
    shortcut the augmentation offers is worth at most its log in nats; null leaves it free."""
    decay_max_ratio: float = DECAY_MAX_RATIO
    """Bound of a learned ``weight_decay``: within this factor of the search's optimizer decay."""
    smoothing_max: float = SMOOTHING_MAX
    """Bound of a learned ``label_smoothing``: each class's smoothing stays in [0, smoothing_max)."""

    def __post_init__(self) -> None:
        require(bool(self.learn), "search.family.learn", list(self.learn), "a non-empty list of parts")
        require(self.init != "learned" or bool(self.init_path), "search.family.init_path", self.init_path,
                "a learned-loss file when search.family.init=learned")
        require(self.cluster_size >= 1, "search.family.cluster_size", self.cluster_size, ">= 1")
        require(self.map_hidden >= 0, "search.family.map_hidden", self.map_hidden, "an integer >= 0")
        require(self.map_hidden == 0 or self.parametrization == "attributes", "search.family.map_hidden",
                self.map_hidden, "0 unless search.family.parametrization=attributes")
        require(0 < self.augment_init < 1, "search.family.augment_init", self.augment_init,
                "a fraction of the bound in (0, 1)")
        require(self.augment_max_ratio is None or self.augment_max_ratio >= 1, "search.family.augment_max_ratio",
                self.augment_max_ratio, "a number >= 1 or null")
        require(self.decay_max_ratio > 1, "search.family.decay_max_ratio", self.decay_max_ratio, "a number > 1")
        require(0 < self.smoothing_max < 1, "search.family.smoothing_max", self.smoothing_max, "in (0, 1)")


@dataclass
class OuterConfig:
    """``search.outer``: the optimizer of the loss parameters, its prior and its clipping."""

    optimizer: str = "adam"
    lr: float = 0.005
    momentum: float = 0.9
    weight_decay: float = 0.0
    anchor: float = 0.0
    prior_width: float | None = None
    """A Gaussian prior centred on the starting loss whose strength a rule sets: its pull is
    added after the clip, with strength ``clip / (sqrt(P) * prior_width)`` for P learned
    entries, so a hypergradient at the clip norm, spread evenly, holds them ``prior_width``
    from their start (RMS) and a noisy one, which averages out, holds them nearer."""
    clip: float | None = 1.0

    def __post_init__(self) -> None:
        require_choice("search.outer.optimizer", self.optimizer, ("adam", "sgd"))
        require(self.lr > 0, "search.outer.lr", self.lr, "a positive number")
        require(self.anchor >= 0, "search.outer.anchor", self.anchor, "a non-negative number")
        require(self.clip is None or self.clip > 0, "search.outer.clip", self.clip, "> 0 or null")
        if self.prior_width is not None:
            require(self.prior_width > 0, "search.outer.prior_width", self.prior_width, "a positive number or null")
            require(self.clip is not None and self.anchor == 0, "search.outer.prior_width", self.prior_width,
                    "null unless search.outer.clip is set (the rule scales the prior to it) and "
                    "search.outer.anchor is 0 (one prior at a time)")


@dataclass
class InnerScheduleConfig:
    """``search.inner``: the searching trainer's own learning-rate milestones, decay and weight
    decay; null compresses the training schedule to the search's length."""

    milestones: list[int] | None = None
    decay: float | None = None
    weight_decay: float | None = None


@dataclass
class ExportConfig:
    """``search.export``: which value of the learned trajectory becomes the learned loss."""

    value: str = "mean_last"
    window: int = 5

    def __post_init__(self) -> None:
        require_choice("search.export.value", self.value, ("last", "mean_last"))
        require(self.window >= 1, "search.export.window", self.window, ">= 1")


@dataclass
class GuardConfig:
    """``search.guard``: what a search does when it climbs its own validation objective
    (:mod:`autobalance.guard`): the mean of the latest ``window / 2`` hyper-steps' objective
    above the ``window / 2`` before by more than ``rise`` (relative) multiplies the outer learning
    rate by ``backoff`` or less and returns the loss to where the objective was lowest, as does a
    latest ``window / 2`` above the lowest mean of ``window / 2`` since the last back-off by more
    than ``drawdown`` (a slow, steady climb); a search whose last ``window / 2`` lie above its
    first by more than ``climb`` exports the loss it started from."""

    enabled: bool = True
    window: int = 20
    rise: float = 0.5
    climb: float = 0.25
    backoff: float = 0.5
    drawdown: float = 0.75

    def __post_init__(self) -> None:
        require(self.window >= 2, "search.guard.window", self.window, "an integer >= 2")
        require(self.rise >= 0, "search.guard.rise", self.rise, "a non-negative number")
        require(self.climb >= 0, "search.guard.climb", self.climb, "a non-negative number")
        require(self.drawdown >= 0, "search.guard.drawdown", self.drawdown, "a non-negative number")
        require(0 < self.backoff < 1, "search.guard.backoff", self.backoff, "in (0, 1)")


@dataclass
class SearchConfig:
    """The bilevel search (``search=autobalance``); ``enabled: false`` is plain training."""

    enabled: bool = False
    epochs: int | None = None
    warmup_epochs: int | None = None
    every: int = 5
    batches: int = 1
    val_batch_size: int | None = None
    val_sampler: str = "class_balanced"
    val_mode: str = "train"
    """How the validation objective runs the model: ``train`` (BatchNorm normalizes each
    validation batch by its own statistics, dropout on) or ``eval`` (as the model is evaluated:
    BatchNorm's running statistics, no dropout)."""
    retrain: bool = True
    folds: int = 1
    """Cross-fitting: with k > 1, k searches, each validating on one of k stratified folds of
    training + validation data and training on the rest; the retrain uses the mean of their
    learned losses. Costs k searches."""
    compare_with: list[str] = field(default_factory=lambda: ["la", "ce"])
    hypergrad: HypergradConfig = field(default_factory=HypergradConfig)
    family: FamilyConfig = field(default_factory=FamilyConfig)
    outer: OuterConfig = field(default_factory=OuterConfig)
    inner: InnerScheduleConfig = field(default_factory=InnerScheduleConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)

    def search_epochs(self, total_epochs: int) -> int:
        """Search length; null means half of the training epochs."""
        return max(1, total_epochs // 2) if self.epochs is None else self.epochs

    def first_hyper_epoch(self, total_epochs: int) -> int:
        """First epoch with hyper-steps; null means after 20% of the search."""
        return int(0.2 * self.search_epochs(total_epochs)) if self.warmup_epochs is None else self.warmup_epochs

    def __post_init__(self) -> None:
        require(self.epochs is None or self.epochs >= 1, "search.epochs", self.epochs, ">= 1 or null")
        if self.epochs is not None and self.warmup_epochs is not None:
            require(0 <= self.warmup_epochs < self.epochs, "search.warmup_epochs", self.warmup_epochs,
                    f"in [0, search.epochs={self.epochs})")
        require(self.every >= 1, "search.every", self.every, "an integer >= 1")
        require(self.batches >= 1, "search.batches", self.batches, "an integer >= 1")
        require_choice("search.val_sampler", self.val_sampler, ("shuffle", "class_balanced", "group_balanced"))
        require_choice("search.val_mode", self.val_mode, ("train", "eval"))


@dataclass
class PosthocConfig:
    """``posthoc``: after training, logit offsets fitted on the validation split's outputs of the
    final model to the run's validation objective (:mod:`autobalance.posthoc`), reported beside the
    unadjusted model. Needs a validation split the final model did not train on."""

    enabled: bool = False
    parametrization: str = "per_class"
    """``per_class`` (K free offsets), ``power_law`` (tau * log pi_k, one number) or ``attributes``
    (a linear map from the class attributes ``attributes`` to the offsets)."""
    attributes: list[str] = field(default_factory=lambda: ["log_frequency", "difficulty"])
    """The class attributes of ``attributes`` (difficulty and training_loss measured on the final model)."""
    steps: int = 300
    lr: float = 0.05

    def __post_init__(self) -> None:
        require_choice("posthoc.parametrization", self.parametrization, ("per_class", "power_law", "attributes"))
        require(bool(self.attributes), "posthoc.attributes", list(self.attributes), "a non-empty list")
        require(self.steps >= 1, "posthoc.steps", self.steps, "an integer >= 1")
        require(self.lr > 0, "posthoc.lr", self.lr, "a positive number")



STAGES = ("all", "search", "retrain", "evaluate")
"""What a run may do (``stage=``): see :attr:`RunConfig.stage`."""


@dataclass
class RunConfig:
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    compile: bool = False
    """``torch.compile`` the training step (:mod:`autobalance.training.compiled`); evaluation and
    hyper-steps stay eager."""
    resume: bool = False
    train_on_val: bool = True
    eval_every: int = 1
    eval_test_per_epoch: bool = False
    """Evaluate the test split with validation every ``eval_every`` epochs (into ``epochs.jsonl``
    and the loggers); by default it is read once, by the final model, so that no tool can pick a
    checkpoint or a setting on it."""
    name: str = "run"
    optimized_metric: str = "objective_error"
    """What the job returns to a sweeper: this key of the final model's validation metrics
    (``objective_error``: the exact metric of the run's objective; ``balanced_error``,
    ``worst_group_error``, ...), never a test metric. A run whose final model trains on validation
    (``train_on_val=true``) has none, and an optimizing sweeper refuses it by name."""
    plugins: list[str] = field(default_factory=list)
    """Modules the CLI imports first: where your own registered losses, models, ... live."""
    stage: str = "all"
    """What the run does: ``all`` (a search -> export -> retrain -> evaluate -> report, or a fixed
    loss's training, evaluation and report); ``search`` (the search and its exported loss only: no
    retrain, the test split unread); ``retrain`` (a fresh model trained with a learned-loss file,
    ``loss=learned loss.path=FILE``, evaluated and reported; the search is off); ``evaluate`` (the
    final model of the run directory ``from_run`` evaluated again, with that run's settings)."""
    from_run: str | None = None
    """The run directory whose final model ``stage=evaluate`` evaluates."""
    data: Any = field(default_factory=DataConfig)
    """A :class:`DataConfig`, or the registered data source's own subclass (built by name)."""
    model: Any = field(default_factory=ModelConfig)
    """A :class:`ModelConfig`: the registered model's own settings class, so the schema leaves the
    section open and :func:`autobalance.configure.load_config` builds it by the model's name."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: Any = field(default_factory=LossConfig)
    """A :class:`LossConfig`: the registered loss's own settings class, so the schema leaves the
    section open and :func:`autobalance.configure.load_config` builds it by the loss's name."""
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    objective: Any = field(default_factory=ObjectiveConfig)
    """An :class:`ObjectiveConfig`, or the registered objective's own subclass (built by name)."""
    posthoc: PosthocConfig = field(default_factory=PosthocConfig)

    def __post_init__(self) -> None:
        require_choice("device", self.device, ("auto", "cpu", "cuda"))
        require_choice("precision", self.precision, ("fp32", "bf16"))
        require(self.seed >= 0, "seed", self.seed, "a non-negative integer")
        require(self.eval_every >= 1, "eval_every", self.eval_every, "an integer >= 1")
        require_choice("stage", self.stage, STAGES)
        if self.stage == "retrain":
            require(self.loss.name == "learned", "loss.name", self.loss.name,
                    "learned when stage=retrain (loss=learned loss.path=<a learned_loss.yaml>)")
            self.search = dataclasses.replace(self.search, enabled=False)
        if self.stage == "search":
            require(self.search.enabled, "search.enabled", self.search.enabled, "true when stage=search")
        require((self.stage == "evaluate") == bool(self.from_run), "from_run", self.from_run,
                "a run directory exactly when stage=evaluate")
        if self.schedule.name != "none" and self.schedule.start_epoch is not None:
            require(self.schedule.start_epoch < self.optim.epochs, "schedule.start_epoch",
                    self.schedule.start_epoch, f"< optim.epochs={self.optim.epochs}")
        if self.posthoc.enabled:
            require(not self.train_on_val or (self.search.enabled and not self.search.retrain), "posthoc.enabled",
                    True, "false unless the final model leaves the validation split out (train_on_val=false, "
                    "or search.retrain=false): the post-hoc offsets are fitted on it")
        if self.search.enabled:
            require(self.data.split != "none", "data.split", self.data.split,
                    "stratified or balanced when search.enabled (the search needs validation data)")
            if not self.search.retrain:
                require(self.search.search_epochs(self.optim.epochs) <= self.optim.epochs, "search.epochs",
                        self.search.epochs, f"<= optim.epochs={self.optim.epochs} when search.retrain=false")
            require(self.loss.name == "ce", "loss.name", self.loss.name,
                    "ce when search is enabled (run a baseline loss with search=none)")
            require(self.search.folds >= 1, "search.folds", self.search.folds, "an integer >= 1")
            if self.search.folds > 1:
                require(self.search.retrain and self.train_on_val, "search.folds", self.search.folds,
                        "1 unless search.retrain=true and train_on_val=true (cross-fitted searches see the "
                        "validation data, so only a retrain on everything is a final model)")
