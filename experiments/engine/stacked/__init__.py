"""Seeds in one graph: K seeds of one configuration trained as one stacked model.

Each Dense layer of the digits MLP (experiments/engine/models.py `build_mlp`) becomes one kernel of
shape `(K, in, out)` and one bias `(K, out)`; a step gathers each member's own batch,
`(K, B, features)`, and runs one batched matmul per layer. The loss is the sum over members of
each member's mean loss, so the gradient with respect to member k's weights is exactly the
gradient of member k's own loss. The project's optimizers (optimizers/) update every element
from its own gradient and slots only, so member k's update is the one its separate run makes:

```python
logits[k] = mlp(weights[k], x_train[rows[k]])                  # rows[k]: seed k's batch
loss = sum(mean(cross_entropy(y_train[rows[k]], logits[k])) for k in range(K))
grads = tape.gradient(loss, stacked_weights)                   # grads[..][k] = d loss_k / d weights[k]
optimizer.apply(grads, stacked_weights)                        # elementwise: member k's own update
```

What member k starts from and sees is what `training.train_run` gives seed k:
- initial weights: those `models.build_model(config with seed=seeds[k], dataset)` draws;
- data order: its separate run's (`epoch_loop.epoch_orders`; the fixed orders "once" and
  "sorted" from experiments/data/shuffling.py);
- metrics: Keras's running means (loss and accuracy weighted by batch size), validation on
  batches of 1024 after each epoch, the final metrics of `training.final_metrics` and the
  validation halves of `training.validation_halves`;
- callbacks: each member has its own, called as `fit` calls a run's (every
  `steps_per_execution` steps and at each epoch's end), with its own logs, writing into its own
  run directory: by default the learning-rate logger, the divergence guard, the metrics file
  and the epoch curves (`members.member_callbacks`). A member its guard stops is masked (its
  gradients zeroed from then on, its weights and metrics those at the step its guard stopped
  it); the others go on. Nothing of one member reaches another: every op is per member.

The modules, by job: `network` (the stacked model, what is refused, each member as a model),
`compiled` (the stacked model and its compiled steps, kept per process and reset between
groups), `members` (each member's data order, callbacks, history and record), `group`
(`train_stacked`, its epochs).

Refused, each with a message (`NotStackable`): another model than the MLP, another backend than
TensorFlow, `distribute`, `clipnorm` (a norm over the whole stacked kernel would mix members),
`divergence_rollback` (a per-run learning-rate change).
"""

from experiments.engine.stacked.compiled import StackedModels, fresh_groups
from experiments.engine.stacked.group import STACKED_MODELS, train_stacked
from experiments.engine.stacked.members import member_callbacks
from experiments.engine.stacked.network import NotStackable, check_stackable

__all__ = [
    "STACKED_MODELS",
    "NotStackable",
    "StackedModels",
    "check_stackable",
    "fresh_groups",
    "member_callbacks",
    "train_stacked",
]
