"""A Ray cluster of several nodes on this machine, for the tests, the benchmark and for trying
`--ray` without a cluster: `python -m experiments.sweeps.local_cluster --nodes 2`.

Every node is a `ray start --block` process in its own process group; Ray's worker processes
make groups of their own, so a node's processes are its group and their descendants, found by
process id (Linux /proc). Stopping the cluster, or killing one node to see it die, signals
exactly those. The cluster asks
for 127.0.0.1 (`--node-ip-address`), keeps the dashboard off and requires a token: Ray 2.60
resolves 127.0.0.1 to the machine's address and its GCS and raylets listen on every interface,
so the token is what keeps others on the network out (Ray's token authentication,
RAY_AUTH_MODE=token; every driver needs the same RAY_AUTH_TOKEN, see `driver_env`).
"""

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

STARTED = "Ray runtime started"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    def __init__(self, nodes=2, cpus_per_node=1, object_store_bytes=100_000_000):
        self.nodes, self.cpus_per_node, self.object_store_bytes = nodes, cpus_per_node, object_store_bytes
        self.token = secrets.token_hex(32)
        self.port = _free_port()
        self.address = None
        self._processes = []
        self._scratch = tempfile.mkdtemp(prefix="ray-local-")

    def driver_env(self):
        """The environment a driver (python experiments/run.py --ray ...) needs to connect."""
        return {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}

    def _node_env(self):
        # Node death noticed in about 3 s instead of 30 (a test kills one).
        return {**self.driver_env(), "RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3",
                "RAY_health_check_initial_delay_ms": "1000", "RAY_USAGE_STATS_ENABLED": "0"}  # fmt: skip

    def _start_node(self, index, head):
        ray = os.path.join(os.path.dirname(sys.executable), "ray")
        command = [ray, "start", "--block", "--node-ip-address", "127.0.0.1", "--num-cpus", str(self.cpus_per_node),
                   "--object-store-memory", str(self.object_store_bytes), "--disable-usage-stats",
                   "--temp-dir", os.path.join(self._scratch, f"node{index}"),
                   "--dashboard-agent-listen-port", str(_free_port()), "--runtime-env-agent-port", str(_free_port()),
                   "--metrics-export-port", str(_free_port())]  # fmt: skip
        if head:
            command += ["--head", "--port", str(self.port), "--include-dashboard", "false",
                        "--dashboard-port", str(_free_port()), "--ray-client-server-port", str(_free_port())]  # fmt: skip
        else:
            command += ["--address", self.address]
        log_path = os.path.join(self._scratch, f"node{index}.log")
        with open(log_path, "w") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=self._node_env(), start_new_session=True)  # fmt: skip
        self._processes.append(process)
        self._wait_started(process, log_path)
        if head:
            with open(log_path) as f:
                found = re.search(r"ray start --address='([^']+)'", f.read())
            self.address = found.group(1) if found else f"127.0.0.1:{self.port}"

    @staticmethod
    def _wait_started(process, log_path, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(log_path) as f:
                text = f.read()
            if STARTED in text:
                return
            if process.poll() is not None:
                raise RuntimeError(f"ray start exited with status {process.returncode}:\n{text[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"ray start did not report '{STARTED}' within {timeout} s (log: {log_path})")

    def start(self):
        try:
            for index in range(self.nodes):
                self._start_node(index, head=index == 0)
        except BaseException:
            self.stop()
            raise
        return self

    def kill_node(self, index):
        """SIGKILL to every process of node `index`, its workers included: the node dies at once."""
        _signal_node(self._processes[index], signal.SIGKILL)
        self._processes[index].wait(timeout=30)

    def stop(self):
        """Stops the nodes, last first, by their own process groups; removes their files."""
        nodes = [(process, _node_pids(process)) for process in reversed(self._processes)]
        for _, pids in nodes:
            _signal(pids, signal.SIGTERM)
        for process, pids in nodes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            # Ray's own processes may outlive `ray start` a moment: what is left gets SIGKILL.
            _signal(pids | _node_pids(process), signal.SIGKILL)
        self._processes = []
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _processes():
    """{pid: (parent pid, process group)} of every process, from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            table[int(entry)] = (int(fields[1]), int(fields[2]))
    return table


def _node_pids(process):
    """The node's process group (start_new_session: its id is the `ray start` process's own) and
    every descendant of it."""
    table = _processes()
    pids = {pid for pid, (_, group) in table.items() if group == process.pid}
    grown = True
    while grown:
        children = {pid for pid, (parent, _) in table.items() if parent in pids} - pids
        pids |= children
        grown = bool(children)
    return pids


def _signal(pids, signum):
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _signal_node(process, signum):
    _signal(_node_pids(process), signum)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Start a Ray cluster of several nodes on this machine (Ctrl-C stops it).")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=1, help="CPUs per node")
    args = parser.parse_args(argv)
    with LocalCluster(args.nodes, args.cpus) as cluster:
        print(f"Ray cluster of {args.nodes} node(s) at {cluster.address}. In another shell:\n"
              f"  export RAY_AUTH_MODE=token RAY_AUTH_TOKEN={cluster.token}\n"
              f"  python experiments/run.py learning_rate --ray {cluster.address}\n"
              "Ctrl-C stops the cluster.", flush=True)  # fmt: skip
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
