"""The `train` section of the config as a checked, typed object, shared by both engines.

Kept apart from `train.py` (which imports fastai) so that the fast engine and the prediction
stages can use it without importing fastai, and without an import cycle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .checks import train_problems


@dataclass(frozen=True)
class TrainSettings:
    """The `train` section of the config. Engine-specific settings are None when not set."""

    engine: str = "fastai"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    max_shift: float = 0.03
    device: str = "auto"
    seed: int = 42
    loss: str = "gaussian"  # see model.TrainingLoss
    pretrained: str | None = None
    freeze_epochs: int = 0  # fastai engine with pretrained weights: head-only epochs first
    compile: bool | None = None  # fast engine: torch.compile the model
    cuda_graphs: bool | None = None  # fast engine: forward/backward as CUDA graphs (CUDA default)

    def __post_init__(self):
        problems = train_problems(asdict(self))
        if problems:
            raise ValueError("; ".join(problems))
