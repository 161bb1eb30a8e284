"""Target: the default `python experiments/run.py` within 5 minutes.

    python benchmarks/default_run.py [--jobs 1]

Runs the default command from scratch in a temporary log directory, the way a new user would
(a fresh process, nothing done before), and prints its wall time against the 5-minute target.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_SECONDS = 300


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logdir:
        command = [sys.executable, os.path.join(REPO, "experiments", "run.py"), "--logdir", logdir, "--jobs", str(args.jobs)]
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        runs = sum(1 for _, _, files in os.walk(logdir) if "record.json" in files)  # one per run directory
    ok = seconds <= TARGET_SECONDS
    print(f"default run (--jobs {args.jobs}): {runs} runs in {seconds:.0f} s = {seconds / TARGET_SECONDS:.2f} of the "
          f"5-minute target on {os.cpu_count()} cores: {'PASS' if ok else 'MISS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
