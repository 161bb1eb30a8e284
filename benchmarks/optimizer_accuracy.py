"""How far each optimizer variant is from its float64 reference, and from Keras's built-in.

    python benchmarks/optimizer_accuracy.py [--steps 200]

Runs every variant in tests/optimizer_cases.py on two problems (three tensors of shapes (3,),
(4, 5), (2, 3, 4)): fixed random gradients, and a noisy quadratic whose gradients depend on
the weights. Prints, per variant and problem, over all steps and elements:

- abs: max |w - w_ref|, against tests/reference.py's float64 numpy implementation;
- rel: max over steps and tensors of max|w - w_ref| / max|w_ref| (error relative to the
  tensor's scale, so that an element passing through zero does not blow the ratio up);
- keras abs: max |w - w_keras| against Keras's built-in of the same name given the same
  arguments, where the variant's definition coincides with Keras's ("-" where it does not).
"""

import argparse
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from optimizer_cases import (  # noqa: E402
    KERAS_CLASSES,
    OUR_CLASSES,
    REFERENCE_CLASSES,
    all_cases,
    family,
    make_problem,
    run_keras,
    run_reference,
    scaled_errors,
)

# Our extra arguments at the value that reproduces Keras's built-in.
KERAS_BEHAVIOUR = {
    "sgd": {"momentum_form": "keras"},
    "adagrad": {"epsilon_inside_sqrt": True},
    "rmsprop": {"epsilon_inside_sqrt": True},
    "adam": {"epsilon_inside_sqrt": False, "bias_correction": True},
}


def keras_arguments(name, kwargs):
    """The built-in's arguments for the same definition, or None where Keras has no such variant."""
    extras = KERAS_BEHAVIOUR[name]
    if any(kwargs.get(key, value) != value for key, value in extras.items()):
        return None
    return {key: value for key, value in kwargs.items() if key not in extras}


def max_abs_difference(actual, expected):
    return max(
        float(np.max(np.abs(a.astype(np.float64) - e)))
        for step_a, step_e in zip(actual, expected)
        for a, e in zip(step_a, step_e)
    )


def measure(steps):
    problems = {
        "random": make_problem(steps, curvature=False, seed=1),
        "quadratic": make_problem(steps, curvature=True, seed=2),
    }
    rows = []
    for case_id, our_kwargs, reference_kwargs in all_cases():
        name = family(case_id)
        for kind, problem in problems.items():
            history, _ = run_keras(OUR_CLASSES[name](**our_kwargs), problem)
            reference = REFERENCE_CLASSES[name](**reference_kwargs)
            expected, _ = run_reference(reference, problem, [our_kwargs["learning_rate"]] * steps)
            max_abs, max_rel = scaled_errors(history, expected)
            builtin_kwargs = keras_arguments(name, our_kwargs)
            keras_abs = None
            if builtin_kwargs is not None:
                builtin_history, _ = run_keras(KERAS_CLASSES[name](**builtin_kwargs), problem)
                keras_abs = max_abs_difference(history, builtin_history)
            rows.append(
                {
                    "variant": case_id,
                    "problem": kind,
                    "abs": max_abs,
                    "rel": max_rel,
                    "keras abs": keras_abs,
                }
            )
            keras.backend.clear_session(free_memory=False)
    return pd.DataFrame(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    table = measure(args.steps)
    print(f"Deviation over {args.steps} steps, float32 optimizers vs float64 reference / Keras:")
    formatted = table.copy()
    for column in ("abs", "rel"):
        formatted[column] = formatted[column].map(lambda x: f"{x:.1e}")
    formatted["keras abs"] = formatted["keras abs"].map(lambda x: "-" if pd.isna(x) else f"{x:.1e}")
    print(formatted.to_markdown(index=False, disable_numparse=True))
    worst = table.loc[table["rel"].idxmax()]
    print(
        f"\nWorst relative deviation: {worst['rel']:.1e} "
        f"({worst['variant']}, {worst['problem']})."
    )


if __name__ == "__main__":
    main()
