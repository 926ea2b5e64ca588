"""The lesson clock counts time spent running cells, not time between them, and checks the stated needs."""

import time

import pytest

from ntk_lessons.support import runtime


class FakeEvents:
    def __init__(self):
        self.hooks = {"pre_run_cell": [], "post_run_cell": []}

    def register(self, event, fn):
        self.hooks[event].append(fn)

    def unregister(self, event, fn):
        self.hooks[event].remove(fn)

    def fire(self, event):
        for fn in list(self.hooks[event]):
            fn(None)


class FakeShell:
    def __init__(self):
        self.events = FakeEvents()


def test_counts_only_time_inside_cells():
    shell = FakeShell()
    clock = runtime.LessonClock(shell)
    shell.events.fire("post_run_cell")  # the creating cell ends
    time.sleep(0.2)  # a reader between cells: not counted
    shell.events.fire("pre_run_cell")
    time.sleep(0.05)
    shell.events.fire("post_run_cell")
    assert 0.04 < clock.seconds() < 0.15
    clock.stop()
    assert shell.events.hooks == {"pre_run_cell": [], "post_run_cell": []}


def test_a_new_clock_retires_the_previous_one():
    shell = FakeShell()
    first = runtime.LessonClock(shell)
    second = runtime.LessonClock(shell)
    assert shell.events.hooks["pre_run_cell"] == [second._pre]
    first.stop()  # harmless twice
    second.stop()


def test_outside_ipython_it_is_a_wall_clock_and_checks_the_statement(capsys, monkeypatch):
    monkeypatch.setenv("NTK_LESSONS_QUICK", "1")
    clock = runtime.LessonClock()
    time.sleep(0.05)
    assert clock.seconds() >= 0.05
    clock.check_stated(full_seconds=100, quick_seconds=10, memory_gb=1000)
    out = capsys.readouterr().out
    assert "in quick mode" in out and "says about 10 s" in out and "under 1000 GB" in out
    with pytest.raises(AssertionError, match="more than 1 x the stated 0 s x the load share"):
        clock.check_stated(full_seconds=0, quick_seconds=0, memory_gb=1000, factor=1, slack_seconds=0)
    if runtime.peak_memory_gb() is not None:
        assert 0 < runtime.peak_memory_gb() < 1000
        with pytest.raises(AssertionError, match="peak memory"):
            clock.check_stated(full_seconds=100, quick_seconds=100, memory_gb=1e-6)


def test_the_time_bound_grows_with_the_machines_load(monkeypatch, capsys):
    monkeypatch.setenv("NTK_LESSONS_QUICK", "1")
    shell = FakeShell()
    clock = runtime.LessonClock(shell)
    shell.events.fire("post_run_cell")  # the creating cell ends
    monkeypatch.setattr(runtime, "load_per_core", lambda: 2.0)  # e.g. two lessons sharing the cores
    shell.events.fire("pre_run_cell")
    time.sleep(0.05)
    shell.events.fire("post_run_cell")
    assert clock.load_share() == pytest.approx(2.0, rel=0.2)  # the creating cell ran at load 1 (none patched)
    clock.check_stated(full_seconds=100, quick_seconds=10, memory_gb=1000)
    assert "load per core:" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="x the load share 2.0"):
        clock.check_stated(full_seconds=0, quick_seconds=0, memory_gb=1000, factor=1, slack_seconds=0)
    clock.stop()


def test_a_quiet_machine_or_one_without_load_averages_has_share_one(monkeypatch):
    monkeypatch.setattr(runtime, "load_per_core", lambda: 0.3)
    assert runtime.LessonClock().load_share() == 1.0  # never below 1
    monkeypatch.setattr(runtime, "load_per_core", lambda: None)  # Windows: no load average
    assert runtime.LessonClock().load_share() == 1.0
