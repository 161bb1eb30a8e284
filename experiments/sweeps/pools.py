"""Where a command's runs train, chosen from the runner's options: a Ray cluster, `jobs` local
worker processes, or this process; with `stack_seeds`, each configuration's seeds as one stacked
model on the local ones. Every pool has `map_runs(runs, logdir)`, yielding `(run, record)`."""


def make_pool(options, backend=None):
    """The pool `options` (config.options.RunnerOptions) ask for, its processes on Keras's
    `backend` (None: KERAS_BACKEND, else TensorFlow) and training as `options.engine` says."""
    if options.cluster:
        from experiments.sweeps.ray_pool import RayPool

        return RayPool(options.cluster, verbose=options.verbose, engine=options.engine)
    from experiments.sweeps import workers

    if options.jobs == 1:
        pool = workers.SerialPool(options.verbose, backend, options.engine)
    else:
        pool = workers.ProcessPool(options.jobs, options.verbose, backend, options.engine)
    if options.stack_seeds:
        from experiments.sweeps.stacked_pool import StackedPool

        return StackedPool(pool)
    return pool
