"""Many runs: planning an experiment's runs (tuning and search stages), executing those not done
yet, and the pools they run on (this process, local worker processes, a Ray cluster, stacked seeds)."""
