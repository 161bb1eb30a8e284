"""Where a command's runs train, chosen from the runner's options: a Ray cluster, `jobs` local
worker processes, or this process; with `stack_seeds` (the default), each configuration's seeds
as one stacked model, a group per task. Every pool has `map_runs(runs, logdir)`, yielding
`(run, record)`."""


def make_pool(options, backend=None):
    """The pool `options` (config.options.RunnerOptions) ask for, its processes on Keras's
    `backend` (None: KERAS_BACKEND, else TensorFlow) and training as `options.engine` says."""
    if options.cluster:
        from experiments.sweeps.ray_pool import RayPool

        pool = RayPool(options.cluster, verbose=options.verbose, engine=options.engine)
        return _stacked(pool) if options.stack_seeds else pool
    from experiments.sweeps import workers

    if options.jobs == 1:
        pool = workers.SerialPool(options.verbose, backend, options.engine)
    else:
        pool = workers.ProcessPool(options.jobs, options.verbose, backend, options.engine)
    return _stacked(pool) if options.stack_seeds else pool


def _stacked(pool):
    from experiments.sweeps.stacked_pool import StackedPool

    return StackedPool(pool)
