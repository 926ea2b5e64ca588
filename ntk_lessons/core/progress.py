"""Progress bars that finish as one line of text: ``progress_bar`` is ``tqdm.auto.tqdm`` with a better ending.

In a notebook, tqdm draws a widget. A saved notebook (``make notebooks``) or the static site cannot run
widgets, so they show the widget's text fallback as it was when the bar was first drawn -- "0%| 0/12" --
and finished work looks stalled. :func:`progress_bar` draws the same widget under a display id and, when the
bar closes, replaces it with one line saying what ran, how far it got and how long it took
("training (sgd, cross_entropy): 300/300 in 00:04"). Live, the student sees the bar move, then that line;
saved, the notebook keeps the line. In a terminal (or with ``disable=True``) it is plain ``tqdm.auto.tqdm``.

Imports tqdm (and, in a notebook, IPython's display) only; no maths here.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Iterable

from tqdm.auto import tqdm as auto_tqdm

__all__ = ["progress_bar", "summary_line"]


def summary_line(desc: str, n: int, total: int | float | None, elapsed: str) -> str:
    """The line a finished bar leaves: ``"desc: n/total in elapsed"`` (``"stopped at"`` if n < total)."""
    name = desc or "done"
    if total and n < total:
        return f"{name}: stopped at {n}/{int(total)} after {elapsed}"
    count = f"{n}/{int(total)}" if total else f"{n}"
    return f"{name}: {count} in {elapsed}"


@functools.cache
def _finishing_notebook_bar() -> type:
    from IPython.display import display
    from tqdm.notebook import tqdm as notebook_tqdm

    class FinishingNotebookBar(notebook_tqdm):
        """tqdm's notebook bar, displayed under a display id and replaced by one line of text on close."""

        def __init__(self, *args, **kwargs):
            kwargs["display"] = False
            super().__init__(*args, **kwargs)
            self._handle = None if self.disable else display(self.container, display_id=True)

        def close(self):
            handle, self._handle = getattr(self, "_handle", None), None
            super().close()
            if handle is not None:
                elapsed = self.format_interval(self._time() - self.start_t)
                handle.update({"text/plain": summary_line(self.desc.rstrip(": "), self.n, self.total, elapsed)},
                              raw=True)

    return FinishingNotebookBar


def progress_bar(iterable: Iterable | None = None, **kwargs: Any):
    """``tqdm.auto.tqdm(iterable, **kwargs)``; in a notebook, a bar that ends as one line (module text).

    Cost: that of tqdm (a widget update at most every 0.1 s).
    """
    notebook = sys.modules.get("tqdm.notebook")
    if kwargs.get("disable") or notebook is None or not issubclass(auto_tqdm, notebook.tqdm):
        return auto_tqdm(iterable, **kwargs)
    return _finishing_notebook_bar()(iterable, **kwargs)
