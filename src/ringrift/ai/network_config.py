"""The settings and progress stages of `ringrift train net`, apart from the training code so
that the console script can offer them without importing numpy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    """The steps of a training run that report progress."""

    REPLAY = "replay"
    LINEAR = "linear"
    TRAIN = "train"


OnProgress = Callable[[Stage, int, int], None]
"""Called with a stage, the steps done and the stage's total steps (games, 1, epochs)."""


@dataclass(frozen=True)
class NetConfig:
    """The training settings (all recorded in the weights file's recipe)."""

    hidden: int = 32
    epochs: int = 15
    lr: float = 1e-3
    l2: float = 3e-2
    """Weight decay of the hidden layer's weights (``w1``, ``w2``)."""
    l2_linear: float = 1e-3
    """Weight decay of the linear term (``v``; ``ringrift train eval``'s default)."""
    batch_size: int = 256
    validation: float = 0.2
    symmetries: bool = True
    """Show each training example through a random symmetry of the board."""
    warm_start: bool = True
    """Start from the linear fit (the linear term at its weights, the hidden layer silent)."""

    def validate(self) -> None:
        for name in ("hidden", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        if not self.lr > 0:
            raise ValueError("the learning rate must be positive")
        if not (self.l2 >= 0 and self.l2_linear >= 0):
            raise ValueError("l2 must not be negative")
        if not 0.0 < self.validation < 1.0:
            raise ValueError("the validation fraction must be between 0 and 1")
