"""pytest plugin: each pytest-xdist worker, and every process it starts, computes on its own share of the CPUs.

Loaded by every ``make test*`` target that runs on several workers (``python -m pytest -p tools.cpu_share -n 2``).
Two XLA processes on the same two cores interfere badly: measured on a 2-core machine, a lesson cell that
computes for 19 s alone took 120 s beside another lesson, and still 119 s with one XLA thread per process
(``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``). With each worker pinned to one core
(XLA sizes its thread pool by the CPUs it may use), the same cell took 22 s and all seven lessons under nbval
plus their re-run took 306 s instead of 461 s. Notebook kernels started by a worker inherit its share.
"""

from __future__ import annotations

import os


def share_of_cpus(worker: int, workers: int, cpus: list[int]) -> set[int] | None:
    """The CPUs worker ``worker`` (0-based) of ``workers`` may use: every ``workers``-th of ``cpus``.

    None when there is nothing to split (one worker, or fewer CPUs than workers).
    """
    if workers < 2 or len(cpus) < workers or not 0 <= worker < workers:
        return None
    return set(sorted(cpus)[worker::workers])


def pytest_configure(config):
    workerinput = getattr(config, "workerinput", None)  # set on pytest-xdist workers only
    if workerinput is None or not hasattr(os, "sched_setaffinity"):
        return
    worker = int(str(workerinput["workerid"]).removeprefix("gw"))
    share = share_of_cpus(worker, int(workerinput["workercount"]), list(os.sched_getaffinity(0)))
    if share:
        os.sched_setaffinity(0, share)
