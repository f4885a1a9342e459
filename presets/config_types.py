"""A typed view of a resolved config, one TypedDict per section, so that mypy catches a
misspelt key where the trainer reads one.

The keys, defaults and checks live in `schema.SCHEMA`; these types only name what a
resolved config holds (every key present, every value checked). A unit test holds the two
together (tests/test_config_types.py). Torch-free, like the rest of presets/.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, cast


class DataConfig(TypedDict):
    dataset: str
    n_samples: int
    noise: float
    val_fraction: float
    path: str | None
    label: str | None
    features: list[str] | None
    x: str | None
    y: str | None
    standardize: bool
    task: Literal["classification", "regression"] | None


class ModelConfig(TypedDict):
    kind: Literal["logreg", "mlp", "python"]
    hidden: list[int]
    activation: str
    leaky_slope: float
    elu_alpha: float
    path: str | None
    builder: str | None


class OptimizerConfig(TypedDict):
    name: str
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    betas: list[float]
    alpha: float
    eps: float | None


class ScheduleConfig(TypedDict):
    name: Literal["none", "noam", "cosine", "step"]
    warmup: int
    factor: float
    d_model: int | None
    step_size: int
    gamma: float
    min_lr: float


class TrainConfig(TypedDict):
    epochs: int
    batch_size: int
    seed: int
    device: str
    dtype: Literal["float32", "float64"]
    grad_stats: bool
    hist_bins: int
    threads: int | None
    cuda_graphs: bool
    boundary: bool


class EarlyStoppingConfig(TypedDict):
    patience: int
    min_delta: float
    restore_best: bool
    divergence_threshold: float | None
    divergence_factor: float | None


class RunConfig(TypedDict):
    """A whole resolved config, as `schema.resolve` returns it and config.yaml holds it."""

    name: str
    description: str
    data: DataConfig
    model: ModelConfig
    optimizer: OptimizerConfig
    schedule: ScheduleConfig
    train: TrainConfig
    early_stopping: EarlyStoppingConfig


SECTIONS: dict[str, type] = {
    "data": DataConfig, "model": ModelConfig, "optimizer": OptimizerConfig,
    "schedule": ScheduleConfig, "train": TrainConfig, "early_stopping": EarlyStoppingConfig,
}


def typed(config: dict[str, Any]) -> RunConfig:
    """The typed view of a config that `schema.resolve` (or `load_preset`) made. No copy and
    no check: resolving already checked every key and value."""
    return cast(RunConfig, config)
