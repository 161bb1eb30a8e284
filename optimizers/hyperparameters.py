"""Hyperparameters held in variables, so that an already traced step reads their current values.

Keras holds a number learning rate in a variable: assigning a new rate changes what an already
traced train function does. It keeps momentum, rho, the betas and epsilon as Python floats,
constants of the traced graph, so a new value needs a new trace. Ours hold them as Keras holds
the rate (optax's `inject_hyperparams` does the same for its transformations), and so do our
decay schedules their rates (`initial_learning_rate`, a piecewise schedule's `values`):

```python
class RMSprop(HoldsHyperparameters, keras.optimizers.Optimizer):
    rho = Hyperparameter(check_unit_interval, terms=lambda rho: {"rho": rho, "one_minus_rho": 1 - rho})
    ...
        rho = term(self, "rho", variable.dtype)      # in update_step: a variable read
```

`optimizer.rho` reads and sets a Python float (checked by `check`: the error names the argument);
a set also assigns one variable per term the rule reads. Each term is computed in Python float64
and rounded once to float32 (`keras.backend.floatx()`, as Keras's learning rate), exactly as the
Python constant it replaces: `1 - rho` rounded, not `1 - float32(rho)`, so a step is bit for bit
the one the graph with constants takes. What changes the graph's structure (momentum switched
off, `centered`, `amsgrad`, a schedule's boundaries) stays a Python setting read when tracing.

Where an optimizer's variables live. Not in `optimizer.variables`: that list, and so what
`set_weights` takes and a saved `.keras` file holds, is exactly Keras's built-in's (the
step count, a number learning rate, the slots), so state moves between theirs and ours. How
each backend's compiled step reads a new value:

- TensorFlow (`tf.function`, `tf.distribute` included) and torch read a variable's current
  value at every step, tracked by the optimizer or not: the rule reads the variable.
- JAX's compiled step gets as arguments only what Keras's trainer passes it (the model's
  variables, `optimizer.variables`, the metrics'); any other array is a constant of the trace.
  So inside a JAX trace `apply` fetches the current values with one `jax.pure_callback` per
  step (one host call, a few microseconds) from a host copy that every set updates, and the
  rule reads those (`HoldsHyperparameters`). A set first waits for the steps already
  dispatched, so a value changed between steps reaches exactly the next one. Assign values
  through the attribute (or `set_held`), not to the variables: JAX reads the host copy.
"""

import keras
import numpy as np
from keras import ops

# Where an owner keeps its {term: variable}, outside Keras's attribute tracking (which would
# add them to an optimizer's `variables`).
_VARIABLES = "_hyperparameter_variables"
_TERM_NAMES = "_hyperparameter_terms"  # {hyperparameter: its term names}
_HOST_VALUES = "_hyperparameter_host_values"  # {term: numpy scalar}, what JAX's step fetches
_TRACED_VALUES = "_hyperparameter_traced_values"  # {term: traced scalar}, inside a JAX `apply`


class Hyperparameter:
    """A hyperparameter mirrored in variables, one per term of the rule that reads it.

    Args:
        check: `check(name, value)` returns the value to keep or raises `ValueError`.
        terms: `terms(value)` gives `{term name: number}`, the numbers the rule reads; defaults
            to the value itself under the hyperparameter's name. A list-valued hyperparameter
            (a piecewise schedule's rates) gives one term per entry; their number is fixed.
        dtype: The variables' dtype; defaults to `keras.backend.floatx()` (Keras's for a rate).

    On an optimizer the variables are created as Keras creates its step count (in the
    optimizer's name scope, `aggregation="only_first_replica"`) but not tracked: they are not
    in `optimizer.variables` nor in its saved state (the config holds the values), and JAX's
    compiled step reads them through `HoldsHyperparameters` (see the module's docstring).
    Elsewhere (a schedule) they are plain non-trainable `keras.Variable`s, read at every step
    on TensorFlow and torch; JAX's compiled step captures their values when it is traced.
    """

    def __init__(self, check, terms=None, dtype=None):
        self.check = check
        self.terms = terms
        self.dtype = dtype

    def __set_name__(self, owner, name):
        self.name = name
        if self.terms is None:
            self.terms = lambda value: {name: value}

    def __get__(self, owner, owner_type=None):
        if owner is None:
            return self
        try:
            return owner.__dict__[self.name]
        except KeyError:  # before `__init__` set it; attribute lookups expect AttributeError
            raise AttributeError(self.name) from None

    def __set__(self, owner, value):
        value = self.check(self.name, value)
        terms = self.terms(value)
        before = owner.__dict__.setdefault(_TERM_NAMES, {}).get(self.name)
        if before is not None and before != tuple(terms):
            raise ValueError(
                f"Argument `{self.name}` cannot change its number of values after construction "
                f"({len(before)}). Received: {self.name}={value!r}"
            )
        variables = owner.__dict__.setdefault(_VARIABLES, {})
        host_values = owner.__dict__.setdefault(_HOST_VALUES, {})
        _wait_for_dispatched_steps(owner)
        for term_name, number in terms.items():
            if term_name in variables:
                variables[term_name].assign(number)
            else:
                variables[term_name] = _new_variable(owner, term_name, number, self.dtype or keras.backend.floatx())
            host_values[term_name] = np.asarray(number, dtype=variables[term_name].dtype)
        owner.__dict__[_TERM_NAMES][self.name] = tuple(terms)
        owner.__dict__[self.name] = value


def _new_variable(owner, name, number, dtype):
    initializer = keras.initializers.Constant(number)
    if isinstance(owner, keras.optimizers.Optimizer):
        # As `Optimizer.add_variable` makes one, without `_track_variable`: Keras's list stays Keras's.
        with keras.name_scope(owner.name, caller=owner):
            return keras.Variable(initializer, shape=(), dtype=dtype, trainable=False,
                                  aggregation="only_first_replica", name=name)  # fmt: skip
    return keras.Variable(initializer, shape=(), dtype=dtype, trainable=False, name=name)


def _wait_for_dispatched_steps(owner):
    """On JAX, waits for the optimizer's steps already dispatched (they fetch the host copy
    when they run, not when dispatched). Their step count is ready once they ran."""
    if keras.backend.backend() != "jax" or not isinstance(owner, keras.optimizers.Optimizer):
        return
    import jax

    try:
        jax.block_until_ready(ops.convert_to_tensor(owner.iterations))
    except (RuntimeError, ValueError):  # an array already donated to a later step: nothing pending
        pass


def term(owner, name, dtype):
    """The value of term `name`, cast to `dtype` (the trained variable's), for an update rule:
    its variable, or inside a JAX trace of `apply` the value fetched for this step."""
    traced = owner.__dict__.get(_TRACED_VALUES)
    if traced is not None:
        return ops.cast(traced[name], dtype)
    return ops.cast(owner.__dict__[_VARIABLES][name], dtype)


class HoldsHyperparameters:
    """Mixin for an optimizer with `Hyperparameter`s, listed before `keras.optimizers.Optimizer`.

    Inside a JAX trace, `apply` fetches the host copy of every term with one `jax.pure_callback`,
    which runs at every execution of the compiled step, and `term` reads those. Elsewhere
    (TensorFlow, torch, JAX run eagerly) `apply` is Keras's and `term` reads the variables.
    """

    def apply(self, grads, trainable_variables=None):
        if not _in_jax_trace(grads):
            return super().apply(grads, trainable_variables)
        self.__dict__[_TRACED_VALUES] = _fetch_host_values(self.__dict__.get(_HOST_VALUES, {}))
        try:
            return super().apply(grads, trainable_variables)
        finally:
            del self.__dict__[_TRACED_VALUES]


def _in_jax_trace(grads):
    if keras.backend.backend() != "jax":
        return False
    import jax

    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(grads))


def _fetch_host_values(host_values):
    """`{term: traced scalar}`: the values `host_values` holds when the compiled step runs."""
    if not host_values:
        return {}
    import jax

    names = tuple(host_values)
    shapes = tuple(jax.ShapeDtypeStruct((), host_values[n].dtype) for n in names)
    # Reads the dict (updated in place by every set), not the optimizer: no reference to it.
    values = jax.pure_callback(lambda: tuple(host_values[n] for n in names), shapes)
    return dict(zip(names, values))


def held(owner):
    """The names of the hyperparameters `owner` holds in variables (none for Keras's own)."""
    names = []
    for cls in type(owner).__mro__:
        for name, attribute in vars(cls).items():
            if isinstance(attribute, Hyperparameter) and name not in names:
                names.append(name)
    return tuple(names)


def set_held(owner, name, value):
    """`owner.<name> = value` for a held hyperparameter, its variables assigned in every case.

    TensorFlow's trackable objects (Keras's optimizers there) skip `owner.name = value` when
    `value` is the very object `owner.name` holds: a variable assigned behind the descriptor's
    back (an optimizer's variables reset to their first values) would keep its value. Sweeps
    hit it: the configurations of one spec share their number objects.
    """
    descriptor = next((vars(cls)[name] for cls in type(owner).__mro__ if name in vars(cls)), None)
    if not isinstance(descriptor, Hyperparameter):
        raise ValueError(f"{type(owner).__name__} holds no hyperparameter {name!r} in variables; held: {held(owner)}")
    descriptor.__set__(owner, value)


def variables(owner):
    """The variables behind `held(owner)`, every term's."""
    return list(owner.__dict__.get(_VARIABLES, {}).values())


def copy_held(source, target):
    """Sets `target`'s held hyperparameters to `source`'s, in nested schedules too.

    `target` is an object of the same class built alike, e.g. the schedule a compiled model's
    optimizer traced with, and `source` the schedule another run would build: afterwards the
    traced step computes `source`'s rates, as far as they are held (the rest must be equal).
    """
    if type(source) is not type(target):
        raise ValueError(f"copy_held needs two objects of one class; got {type(source).__name__} "
                         f"and {type(target).__name__}")  # fmt: skip
    for name in held(source):
        set_held(target, name, getattr(source, name))
    for name, value in vars(source).items():
        parts = value if isinstance(value, (list, tuple)) else [value]
        target_value = getattr(target, name)
        target_parts = target_value if isinstance(target_value, (list, tuple)) else [target_value]
        for part, target_part in zip(parts, target_parts):
            if isinstance(part, keras.optimizers.schedules.LearningRateSchedule):
                copy_held(part, target_part)
