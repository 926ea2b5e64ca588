"""tools/cpu_share.py: each pytest-xdist worker gets a disjoint share of the CPUs (see the plugin for why)."""

import os

import pytest

from tools import cpu_share  # python -m pytest puts the repository on sys.path


def test_two_workers_on_two_cpus_get_one_each():
    assert cpu_share.share_of_cpus(0, 2, [0, 1]) == {0}
    assert cpu_share.share_of_cpus(1, 2, [1, 0]) == {1}


def test_shares_are_disjoint_and_cover_every_cpu():
    cpus = [0, 1, 2, 3, 5, 8, 9]
    shares = [cpu_share.share_of_cpus(worker, 3, cpus) for worker in range(3)]
    assert set().union(*shares) == set(cpus) and sum(map(len, shares)) == len(cpus)


@pytest.mark.parametrize("worker, workers, cpus", [(0, 1, [0, 1]), (2, 3, [0, 1]), (2, 2, [0, 1, 2])])
def test_nothing_to_split_leaves_the_cpus_alone(worker, workers, cpus):
    assert cpu_share.share_of_cpus(worker, workers, cpus) is None


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this system")
def test_an_xdist_worker_runs_on_its_share(request):
    """Under `make test-unit` (-p tools.cpu_share -n 2 on 2 or more CPUs) this worker may not use every CPU."""
    workerinput = getattr(request.config, "workerinput", None)
    workers = int(workerinput["workercount"]) if workerinput else 1
    if not request.config.pluginmanager.has_plugin("tools.cpu_share") or workers < 2 or os.cpu_count() < workers:
        pytest.skip("not on several pytest-xdist workers with the plugin loaded")
    assert len(os.sched_getaffinity(0)) <= -(-os.cpu_count() // workers)
