"""Target: optimizer update speed as a fraction of copy bandwidth.

    python benchmarks/optimizer_speed.py [--sizes 1e6,1e7] [--repeats 15] [--seconds 0.05] [--variables 1]

For each size (float32 parameters), one run measures, interleaved:
- copy bandwidth, three ways: numpy `np.copyto(dst, src)` on one thread (glibc's memcpy, no
  framework in the way), the same split over 2 threads (the machine has 2 cores, and one core
  alone does not saturate memory), and an XLA-compiled `tf.function` doing `dst.assign(src)`
  (one HLO copy; TensorFlow's own copy, fixed cost of a call included). A copy moves 2 arrays:
  it reads src and writes dst. The reference is the fastest of the three, the best this
  process got from the machine: a slower one would flatter the updates. (An uncompiled
  `dst.assign(src)` is no reference: TensorFlow makes dst share src's buffer; no byte moves.)
- each optimizer's update, ours and Keras's built-in of the same name with the same arguments,
  as a `tf.function` calling `optimizer.apply(gradients, variables)`, without XLA and with XLA
  (`jit_compile=True`);
- "fixed ms": our same update on 1,024 parameters, the per-call cost that does not grow with
  size (Python and TensorFlow dispatch, thread hand-offs, the scalar step arithmetic).

Bytes moved per update, counting each array of `size` float32 once per read and once per
write, as one fused loop would (temporaries and re-reads are the implementation's cost, not
useful work):
- SGD: reads w, g, writes w: 3 arrays;
- SGD momentum: reads w, g, velocity, writes velocity, w: 5;
- Adagrad: reads w, g, accumulator, writes accumulator, w: 5;
- RMSprop (no momentum, not centered): reads w, g, velocity, writes velocity, w: 5;
- Adam (no AMSGrad): reads w, g, m, v, writes m, v, w: 7.
Achieved bandwidth = bytes / median time; "of copy" = that / the copy reference. An update
writes over arrays it has just read, while a copy's destination must first be fetched into
the cache (write-allocate), so an update can exceed 1.0 of copy bandwidth.
"of copy, fixed ms taken out" uses (time - fixed ms): how well the memory traffic itself runs.

The parameters are one flat variable by default: memory traffic does not depend on how the
parameters are split, while each extra variable adds fixed per-op costs that are not memory
(`--variables 8` splits them into 8 equal variables to see those). The gradients are fixed
tensors passed as the function's argument, as a train step hands them over.

Each timed sample repeats one call for about `--seconds` after warm-up calls (tracing,
compilation); every repeat visits all cells in a new shuffled order, ours and Keras's back to
back in alternating order, so that drifts in the load of this shared machine hit all alike;
Python's garbage collector is off while sampling. Reported: medians over the repeats, and the
spread "±" as half the interquartile range in % of the median. Targets: ours with
XLA >= 0.85 of copy bandwidth for every optimizer; ours without XLA at least as fast as
Keras's built-in: the median of the per-repeat ratios time ours / Keras <= 1.00 ("PASS"), or
1.00 inside their interquartile range ("PASS (tie)": not slower within this machine's noise;
the column also says in how many repeats ours was the faster). The last column counts the
arrays that XLA's compiled loops actually read and write, from the optimized HLO.

Read a run against its load average (printed at the end): another process on these 2 cores
slows the 2-thread copy more than the updates, and the fractions of copy bandwidth then come
out too high.
"""

import argparse
import gc
import math
import os
import random
import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from experiments.engine.quiet import import_tensorflow_quietly

import_tensorflow_quietly()
import keras
import numpy as np
import tensorflow as tf

import optimizers

FRACTION_TARGET = 0.85  # of copy bandwidth, ours with XLA
FLOAT32_BYTES = 4
COPY_ARRAYS = 2
FIXED_COST_SIZE = 1024

# (label, class name, arguments, arrays read + written per update)
OPTIMIZERS = [
    ("SGD", "SGD", dict(learning_rate=0.01), 3),
    ("SGD momentum", "SGD", dict(learning_rate=0.01, momentum=0.9), 5),
    ("Adagrad", "Adagrad", dict(learning_rate=0.01), 5),
    ("RMSprop", "RMSprop", dict(learning_rate=0.001), 5),
    ("Adam", "Adam", dict(learning_rate=0.001), 7),
]
IMPLEMENTATIONS = {"ours": optimizers, "keras": keras.optimizers}


def split(size, parts):
    base, extra = divmod(size, parts)
    return [base + (i < extra) for i in range(parts)]


class Timer:
    """Times one callable: warm-up, then calls repeated for about `seconds` per sample."""

    def __init__(self, function, seconds):
        for _ in range(3):  # tracing / compilation, then first-touch of every buffer
            function()
        start = time.perf_counter()
        function()
        self.calls = max(3, math.ceil(seconds / (time.perf_counter() - start)))
        self.function = function
        self.samples = []

    def sample(self):
        function = self.function
        start = time.perf_counter()
        for _ in range(self.calls):
            function()
        self.samples.append((time.perf_counter() - start) / self.calls)


def update_timer(implementation, class_name, arguments, gradients, jit, seconds):
    rng = np.random.default_rng(1)
    variables = [keras.Variable(rng.normal(size=g.shape).astype(np.float32)) for g in gradients]
    optimizer = getattr(IMPLEMENTATIONS[implementation], class_name)(**arguments)
    optimizer.build(variables)

    @tf.function(jit_compile=jit)
    def update(gradients):
        optimizer.apply(gradients, variables)

    timer = Timer(lambda: update(gradients), seconds)
    if jit:
        timer.optimized_hlo = lambda: update.experimental_get_compiler_ir(gradients)(stage="optimized_hlo")
    return timer


def arrays_moved_by_xla(optimized_hlo, part_sizes):
    """Arrays of the parameters' size that the compiled program's loops read or write, from
    its optimized HLO: the parameters are 1-D variables of `part_sizes` elements.

    XLA on CPU compiles each updated variable into its own loop ("fusion"): a later loop reads
    what an earlier one wrote (Adam's weight loop reads the new m and v), so it moves more
    than the arrays counted above. Returns None where the HLO text is not as expected.
    """
    instruction = re.compile(r"\s*(?:ROOT )?%(\S+) = f32\[(\d+)\]\S* (\w+)\((.*?)\)")
    if "\nENTRY" not in optimized_hlo:
        return None
    elements, moved = {}, 0
    for line in optimized_hlo[optimized_hlo.index("\nENTRY") :].splitlines()[1:]:
        match = instruction.match(line)
        if not match or int(match.group(2)) not in set(part_sizes):
            continue
        name, length, opcode, operands = match.groups()
        elements[name] = int(length)
        if opcode == "parameter":
            continue
        names = [o.strip().lstrip("%") for o in operands.split(",")]
        moved += int(length) + sum(elements.get(n, 0) for n in names)
    return moved / sum(part_sizes) if moved else None


def copy_timers(size, seconds, pool):
    rng = np.random.default_rng(2)
    source = rng.normal(size=size).astype(np.float32)
    destination = np.empty_like(source)
    tf_source, tf_destination = tf.Variable(source), tf.Variable(np.zeros_like(source))
    half = size // 2

    def two_thread_copy():  # np.copyto releases the GIL
        other = pool.submit(np.copyto, destination[:half], source[:half])
        np.copyto(destination[half:], source[half:])
        other.result()

    @tf.function(jit_compile=True)
    def xla_copy():
        tf_destination.assign(tf_source)  # returns nothing: one HLO copy

    return {
        "numpy copy": Timer(lambda: np.copyto(destination, source), seconds),
        "numpy copy, 2 threads": Timer(two_thread_copy, seconds),
        "XLA copy": Timer(xla_copy, seconds),
    }


def cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown CPU"


def half_iqr_percent(values):
    q1, _, q3 = statistics.quantiles(values, n=4)
    return 50.0 * (q3 - q1) / statistics.median(values)


def measure_size(size, args, pool):
    """Timers for the copies, every (optimizer, XLA, implementation) update, and ours on
    `FIXED_COST_SIZE` parameters (the per-call cost that does not scale with size); sampled."""
    rng = np.random.default_rng(0)
    gradients = {
        n: [tf.constant(rng.normal(size=part).astype(np.float32)) for part in split(n, args.variables)]
        for n in (size, FIXED_COST_SIZE)
    }
    copies = copy_timers(size, args.seconds, pool)
    updates, fixed = {}, {}
    for label, class_name, arguments, _ in OPTIMIZERS:
        for jit in (False, True):
            for implementation in IMPLEMENTATIONS:
                updates[label, jit, implementation] = update_timer(
                    implementation, class_name, arguments, gradients[size], jit, args.seconds
                )
            fixed[label, jit] = update_timer(
                "ours", class_name, arguments, gradients[FIXED_COST_SIZE], jit, args.seconds
            )
    units = [[timer] for timer in (*copies.values(), *fixed.values())] + [
        [updates[label, jit, i] for i in IMPLEMENTATIONS] for label, *_ in OPTIMIZERS for jit in (False, True)
    ]
    gc.collect()
    gc.disable()  # a collection would be charged to whichever sample set it off
    try:
        for repeat in range(args.repeats):
            random.Random(repeat).shuffle(units)
            for unit in units:
                for timer in unit if repeat % 2 == 0 else reversed(unit):
                    timer.sample()
    finally:
        gc.enable()
    return copies, updates, fixed


def bandwidth(arrays, size, seconds):
    return arrays * size * FLOAT32_BYTES / seconds / 1e9


def median_ms(timer):
    return 1e3 * statistics.median(timer.samples)


def report(size, copies, updates, fixed, args):
    """Prints the tables for one size; returns whether every target is met."""
    copy_rates = {name: bandwidth(COPY_ARRAYS, size, statistics.median(t.samples)) for name, t in copies.items()}
    reference_name = max(copy_rates, key=copy_rates.get)
    reference = copy_rates[reference_name]
    print(f"\n### {size:,} float32 parameters in {args.variables} variable(s)\n")
    print(
        "Copy bandwidth (2 arrays per copy): "
        + ", ".join(
            f"{name} {rate:.1f} GB/s (±{half_iqr_percent(copies[name].samples):.0f}%)"
            for name, rate in copy_rates.items()
        )
        + f". Reference: {reference_name}, {reference:.1f} GB/s.\n"
    )
    print("| optimizer | arrays | impl | no XLA ms | ± | GB/s | of copy | XLA ms | ± | GB/s | of copy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, _, _, arrays in OPTIMIZERS:
        for implementation in IMPLEMENTATIONS:
            cells = []
            for jit in (False, True):
                timer = updates[label, jit, implementation]
                rate = bandwidth(arrays, size, median_ms(timer) / 1e3)
                cells += [
                    f"{median_ms(timer):.2f}",
                    f"{half_iqr_percent(timer.samples):.0f}%",
                    f"{rate:.1f}",
                    f"{rate / reference:.2f}",
                ]
            print(f"| {label} | {arrays} | {implementation} | " + " | ".join(cells) + " |")

    print(
        "\n| optimizer | time ours / Keras, no XLA (IQR) | verdict "
        f"| ours with XLA, of copy | verdict (>= {FRACTION_TARGET}) "
        "| fixed ms: no XLA, XLA | ours with XLA, of copy, fixed ms taken out | arrays: counted, XLA's loops move |"
    )
    print("|---|---|---|---|---|---|---|---|")
    verdicts = []
    for label, _, _, arrays in OPTIMIZERS:
        ours, theirs = (updates[label, False, i].samples for i in IMPLEMENTATIONS)
        ratios = [a / b for a, b in zip(ours, theirs)]
        ratio = statistics.median(ratios)
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        faster = sum(r < 1.0 for r in ratios)
        # Not slower: the median ratio <= 1, or 1 inside the interquartile range (a tie within
        # this machine's noise, e.g. where both run the same kernels).
        speed_ok = ratio <= 1.0 or q1 <= 1.0 <= q3
        speed = "MISS" if not speed_ok else ("PASS" if ratio <= 1.0 else "PASS (tie)")
        xla_ms = median_ms(updates[label, True, "ours"])
        fraction = bandwidth(arrays, size, xla_ms / 1e3) / reference
        fraction_ok = fraction >= FRACTION_TARGET
        fixed_ms = [median_ms(fixed[label, jit]) for jit in (False, True)]
        memory_ms = xla_ms - fixed_ms[1]
        memory_fraction = f"{bandwidth(arrays, size, memory_ms / 1e3) / reference:.2f}" if memory_ms > 0 else "-"
        moved = arrays_moved_by_xla(updates[label, True, "ours"].optimized_hlo(), split(size, args.variables))
        verdicts += [speed_ok, fraction_ok]
        print(
            f"| {label} | {ratio:.3f} ({q1:.3f}-{q3:.3f}), faster in {faster}/{len(ratios)} | {speed} "
            f"| {fraction:.2f} | {'PASS' if fraction_ok else 'MISS'} | {fixed_ms[0]:.2f}, {fixed_ms[1]:.2f} "
            f"| {memory_fraction} | {arrays}, {'?' if moved is None else f'{moved:g}'} |"
        )
    return all(verdicts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7", help="comma-separated parameter counts")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=0.05, help="time per sample")
    parser.add_argument("--variables", type=int, default=1, help="split the parameters into this many variables")
    args = parser.parse_args(argv)
    if args.repeats < 2:
        parser.error("--repeats must be at least 2 (the spread needs two samples)")
    if not 1 <= args.variables <= FIXED_COST_SIZE:
        parser.error(f"--variables must be in [1, {FIXED_COST_SIZE}]")

    print(
        f"{cpu_model()}, {os.cpu_count()} cores; TensorFlow {tf.__version__}, Keras {keras.__version__}\n"
        f"python benchmarks/optimizer_speed.py --sizes {args.sizes} --repeats {args.repeats} "
        f"--seconds {args.seconds} --variables {args.variables}"
    )
    load_before = os.getloadavg()[0]
    passed = True
    with ThreadPoolExecutor(1) as pool:
        for size in (int(float(s)) for s in args.sizes.split(",")):
            timers = measure_size(size, args, pool)
            passed &= report(size, *timers, args)
            del timers
            keras.backend.clear_session()
    print(f"\nall targets met: {'yes' if passed else 'no'}")
    # This run keeps about one core busy; much more means another process shared the cores, which
    # slows the 2-thread copy more than the updates and inflates their fractions of it.
    print(f"1-minute load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
