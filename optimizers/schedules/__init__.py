"""Learning-rate schedules: the notes' decay forms, Keras's, warm-up, cosine decay, chaining and scaling.

Every schedule here is a `keras.optimizers.schedules.LearningRateSchedule`, usable as the
`learning_rate` of our optimizers and of Keras's, computed with `keras.ops` (so it runs inside
compiled graphs, XLA included) and serializable, nested schedules included.

Steps and epochs. A schedule is called with the optimizer's step count, `optimizer.iterations`:
the number of updates already applied. Update number `n` (counting from 0) uses `schedule(n)`,
so the first update uses `schedule(0)`. The notes write their decay forms per *epoch*
(`lr0 * 0.97 ** epoch_nb`); two equivalent ways to get that:

```python
# 1. Count in steps: one decay period per epoch, applied at epoch boundaries.
ExponentialDecay(lr0, decay_steps=steps_per_epoch, decay_rate=0.97, staircase=True)
# 2. Write the schedule in epochs, exactly as the notes do, and let PerEpoch convert.
PerEpoch(ExponentialDecay(lr0, decay_steps=1, decay_rate=0.97), steps_per_epoch)
```

Without `staircase`, `decay_steps=steps_per_epoch` decays smoothly, reaching the per-epoch value
at each epoch boundary.

Boundary conventions differ, on purpose, and are stated per class: `PiecewiseConstantDecay`
keeps Keras's (the new value starts *after* a boundary step), while `Warmup` and
`SequentialSchedule` switch *at* the boundary step, where the next schedule sees its step 0
(as optax's `join_schedules`).
"""

from optimizers.schedules._common import LearningRateSchedule
from optimizers.schedules.composition import PerEpoch, ScaledSchedule, SequentialSchedule, Warmup
from optimizers.schedules.cosine import CosineDecay, CosineDecayRestarts
from optimizers.schedules.decay import (
    ExponentialDecay,
    InverseSqrtDecay,
    InverseTimeDecay,
    PiecewiseConstantDecay,
    PolynomialDecay,
)

__all__ = [
    "LearningRateSchedule",
    "InverseTimeDecay",
    "ExponentialDecay",
    "InverseSqrtDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "CosineDecay",
    "CosineDecayRestarts",
    "Warmup",
    "SequentialSchedule",
    "PerEpoch",
    "ScaledSchedule",
]
