"""Run the lessons headless with nbclient: no widget-cell stall, and a fast, named failure when a kernel goes quiet.

Used by ``make notebooks`` (``python tools/notebook_runner.py --out build/notebooks notebooks/*.ipynb``, the
executed copies that ``make site`` renders). nbval ("Restart & run all", and the same-kernel re-run that
``tools/nbval_rerun.py`` adds) uses its own blocking client, which has no Output-widget mimic and so no stall;
that plugin applies the same quiet-kernel test (:class:`QuietWatch`) to nbval's wait for a reply.

The stall and its cause
-----------------------
A widget cell (``ipywidgets.interact``) sometimes waited for exactly the cell timeout (900 s in CI) with
the kernel idle, then passed. nbclient mimics a front end's Output widget: each output the kernel sends
into an Output widget (interact draws its figure in one) makes nbclient send a ``comm_msg`` back to the
kernel on the *shell* socket, from the coroutine that reads IOPub, while the cell's coroutine awaits the
``execute_reply`` on that same shell socket. jupyter_client's ``Session.send`` writes through a
*synchronous shadow* of the asyncio socket, so pyzmq's asyncio layer never learns of that send. libzmq's
notification descriptor is edge-triggered: when the reply has already reached the socket, the send
consumes its readable edge, and the pending ``await socket.poll()`` is never woken. The reply sits unread
until the poll's timeout fires and finds it -- hence "exactly the cell timeout, then passed". Whether the
reply arrives before the send is a race (a big PNG to decode, a busy machine), hence "intermittent".
``tests/test_notebook_runner.py`` makes the race certain (the mimic pauses 50 ms, as under load): plain
nbclient then waits out the timeout on every widget cell, this client never does.

The cure, :class:`ShellSafeOutputWidget`: the mimic sends its ``comm_msg`` through the asyncio socket
itself, whose send path re-checks the socket's events (``_schedule_remaining_events``) and so wakes a
pending receive. The kernel still gets every update a real front end would send.

The guard, :class:`LessonClient`: while a cell runs, a watchdog looks every few seconds; if the cell has
had no kernel message for ``quiet_seconds`` (60) and the kernel process used (almost) no CPU meanwhile, the
cell fails at once with :class:`QuietKernelError`, naming the notebook, the cell and the last messages,
and saying whether an unread reply sits in the shell socket. A cell that computes silently for minutes
keeps the CPU busy and is left alone; ``timeout`` still bounds every cell.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import psutil
import zmq
from nbclient.jsonutil import json_clean
from nbclient.output_widget import OutputWidget
from nbclient.util import run_sync

QUIET_SECONDS = 60.0  # no kernel message and no kernel CPU for this long: the kernel has gone quiet
WATCH_EVERY = 2.0  # seconds between the watchdog's looks
IDLE_CPU_SHARE = 0.02  # "no CPU": under 2% of one core over the quiet window


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds a process has used so far; None when it cannot be read."""
    try:
        times = psutil.Process(pid).cpu_times() if pid else None
    except psutil.Error:
        return None
    return None if times is None else times.user + times.system


class QuietWatch:
    """How much CPU a kernel process used over the last ``quiet_seconds``: the one test of "gone quiet".

    Call :meth:`restart` when a cell starts and :meth:`idle_cpu` on each look (every ``WATCH_EVERY`` s): it
    returns the CPU seconds used over a window of at least ``quiet_seconds`` when that is under
    ``IDLE_CPU_SHARE`` of the window (the kernel did nothing), else None. Shared by :class:`LessonClient`
    (nbclient) and ``tools/nbval_rerun.py`` (nbval's blocking client). Cost: one ``psutil`` read per look.
    """

    def __init__(self, pid: int | None, quiet_seconds: float = QUIET_SECONDS):
        self.pid = pid
        self.quiet_seconds = float(quiet_seconds)
        self.restart()

    def restart(self) -> None:
        self.samples = collections.deque([(time.monotonic(), process_cpu_seconds(self.pid))])

    def idle_cpu(self) -> float | None:
        now, cpu = time.monotonic(), process_cpu_seconds(self.pid)
        self.samples.append((now, cpu))
        while len(self.samples) > 2 and self.samples[1][0] <= now - self.quiet_seconds:
            self.samples.popleft()  # keep the oldest sample at least quiet_seconds old
        start_time, start_cpu = self.samples[0]
        window = now - start_time
        if window >= self.quiet_seconds and cpu is not None and start_cpu is not None \
                and cpu - start_cpu < IDLE_CPU_SHARE * window:
            return cpu - start_cpu
        return None


class QuietKernelError(nbclient.exceptions.CellExecutionError):
    """A cell got no kernel message for ``quiet_seconds`` while the kernel used no CPU."""

    def __init__(self, text: str):
        super().__init__(text, "QuietKernelError", text)


class ShellSafeOutputWidget(OutputWidget):
    """nbclient's Output-widget mimic, sending its comm messages through the asyncio shell socket.

    The base class sends with ``Session.send``, i.e. through a synchronous shadow socket, which can swallow
    the readable edge of an ``execute_reply`` that another coroutine is waiting for (see the module text).
    """

    def _publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys) -> None:
        content = json_clean(dict(data={} if data is None else data, comm_id=self.comm_id, **keys))
        session = self.kernel_client.session
        msg = session.msg(msg_type, content=content, parent=self.parent_header, metadata=metadata or {})
        frames = session.serialize(msg) + list(buffers or [])
        self.kernel_client.shell_channel.socket.send_multipart(frames)  # zmq.asyncio: events re-checked


class LessonClient(nbclient.NotebookClient):
    """An nbclient ``NotebookClient`` with the stall cured and a quiet-kernel guard.

    ``name``: how failures name the notebook. ``quiet_seconds``: see the module text. Everything else as
    ``nbclient.NotebookClient`` (``timeout`` is the hard limit of one cell, in seconds).
    """

    def __init__(self, nb, *, name: str = "notebook", quiet_seconds: float = QUIET_SECONDS, **kwargs):
        super().__init__(nb, **kwargs)
        self.notebook_name = name
        self.quiet_seconds = float(quiet_seconds)
        self.recent_messages: collections.deque[str] = collections.deque(maxlen=12)
        self._last_message = time.monotonic()

    # --- the cure
    def on_comm_open_jupyter_widget(self, msg):
        widget = super().on_comm_open_jupyter_widget(msg)
        if isinstance(widget, OutputWidget) and not isinstance(widget, ShellSafeOutputWidget):
            widget = ShellSafeOutputWidget(widget.comm_id, widget.state, self.kc, self)
        return widget

    # --- the guard
    def process_message(self, msg, cell, cell_index):
        self._last_message = time.monotonic()
        content = msg.get("content", {})
        detail = content.get("execution_state") or content.get("name") or content.get("comm_id", "")
        self.recent_messages.append(f"{time.strftime('%H:%M:%S')} {msg['msg_type']} {detail}".rstrip())
        return super().process_message(msg, cell, cell_index)

    def _reply_waiting_unread(self) -> bool:
        try:
            return bool(zmq.Socket.shadow(self.kc.shell_channel.socket.underlying).poll(0))
        except Exception:  # noqa: BLE001 -- a diagnostic only
            return False

    def _quiet_report(self, cell_index: int, quiet: float, cpu: float) -> str:
        unread = self._reply_waiting_unread()
        return (f"{self.notebook_name}, cell {cell_index}: no kernel message for {quiet:.0f} s while the kernel "
                f"used {cpu:.1f} s of CPU -- the kernel has gone quiet. "
                f"{'A reply waits unread in the shell socket (a missed wakeup). ' if unread else ''}"
                f"Last messages of this cell: {'; '.join(self.recent_messages) or 'none'}.")

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        self.recent_messages.clear()
        self._last_message = time.monotonic()
        watch = QuietWatch(getattr(getattr(self.km, "provisioner", None), "pid", None), self.quiet_seconds)
        before = asyncio.all_tasks()
        task = asyncio.ensure_future(super().async_execute_cell(cell, cell_index, execution_count, store_history))
        while True:
            done, _ = await asyncio.wait({task}, timeout=WATCH_EVERY)
            if done:
                return task.result()
            idle_cpu = watch.idle_cpu()
            quiet = time.monotonic() - self._last_message
            if quiet >= self.quiet_seconds and idle_cpu is not None:
                # nbclient's own pollers of this cell (kernel alive, iopub, reply) go too: left running, the
                # kernel-alive poller fails later, once the kernel is shut down ("Task exception was never retrieved")
                pollers = asyncio.all_tasks() - before - {asyncio.current_task()}
                for pending in pollers | {task}:
                    pending.cancel()
                await asyncio.gather(task, *pollers, return_exceptions=True)
                raise QuietKernelError(self._quiet_report(cell_index, quiet, idle_cpu))

    execute_cell = run_sync(async_execute_cell)


def execute_notebook(path: Path, out_dir: Path, *, timeout: int = 3600, quiet_seconds: float = QUIET_SECONDS) -> Path:
    """Execute one notebook in a fresh kernel (its folder as working directory); write it with outputs."""
    nb = nbformat.read(path, as_version=4)
    client = LessonClient(nb, name=path.name, timeout=timeout, quiet_seconds=quiet_seconds, kernel_name="python3",
                          resources={"metadata": {"path": str(path.parent)}})
    start = time.monotonic()
    client.execute()
    out = out_dir / path.name
    nbformat.write(nb, out)
    print(f"{path.name}: executed in {time.monotonic() - start:.0f} s -> {out}", flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for the executed copies")
    parser.add_argument("--timeout", type=int, default=int(os.environ.get("NBVAL_TIMEOUT", 3600)),
                        help="hard limit of one cell, seconds")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        execute_notebook(path, args.out, timeout=args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
