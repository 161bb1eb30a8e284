"""Keras callbacks that make optimization visible in TensorBoard and controllable while it runs.

Each callback does one thing and composes with `keras.callbacks.TensorBoard` and with the others.
"""

__all__ = []

# Visibility: TensorBoard summaries, the divergence guard, the metrics file.
# Order them as listed: learning-rate setters, LearningRateLogger, GradientStatistics,
# OptimizerStateStatistics, DivergenceGuard, MetricsFile, then EpochSummaries (the epoch curves
# of keras.callbacks.TensorBoard, cheaper) or keras.callbacks.TensorBoard.
from callbacks.divergence_guard import DivergenceGuard  # noqa: E402
from callbacks.epoch_summaries import EpochSummaries  # noqa: E402
from callbacks.gradient_statistics import GradientStatistics  # noqa: E402
from callbacks.learning_rate_logger import LearningRateLogger  # noqa: E402
from callbacks.metrics_file import MetricsFile  # noqa: E402
from callbacks.optimizer_state import OptimizerStateStatistics  # noqa: E402

__all__ += [
    "LearningRateLogger",
    "GradientStatistics",
    "OptimizerStateStatistics",
    "DivergenceGuard",
    "MetricsFile",
    "EpochSummaries",
]

# Control: change hyperparameters while `fit` runs, plateau reduction, range test. They share
# one mechanism for changing the learning rate: callbacks/learning_rate_control.py.
from callbacks.hyperparameter_control import HyperparameterControl  # noqa: E402
from callbacks.lr_range_test import LRRangeTestResult, lr_range_test  # noqa: E402
from callbacks.reduce_lr_on_plateau import ReduceLROnPlateau  # noqa: E402

__all__ += ["HyperparameterControl", "ReduceLROnPlateau", "lr_range_test", "LRRangeTestResult"]
