"""The training engine (one run) and the sweep driver (all runs, vmapped)."""

from rabbitjax.train.engine import (
    Task,
    TrainState,
    batch_plan,
    create_train_state,
    evaluate,
    run_epoch,
    train_epoch,
    train_step,
)
from rabbitjax.train.losses import (
    accuracy,
    bit_accuracy,
    mean_squared_error,
    sequence_accuracy,
    softmax_cross_entropy,
)
from rabbitjax.train.optimizers import OPTIMIZERS, make_optimizer, optimizer_step
from rabbitjax.train.sweep import RunResult, Sweep, fit, make_sweep, over_runs, train_agents

__all__ = [
    "OPTIMIZERS",
    "RunResult",
    "Sweep",
    "Task",
    "TrainState",
    "accuracy",
    "bit_accuracy",
    "batch_plan",
    "create_train_state",
    "evaluate",
    "fit",
    "make_optimizer",
    "make_sweep",
    "mean_squared_error",
    "optimizer_step",
    "over_runs",
    "sequence_accuracy",
    "run_epoch",
    "softmax_cross_entropy",
    "train_agents",
    "train_epoch",
    "train_step",
]
