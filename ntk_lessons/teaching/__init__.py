"""ntk_lessons.teaching: what a student sees -- figures, widgets, exercises and their reference solutions.

Holds
    plots       figures of every lesson (each draws on a given or new Axes/Figure and returns it)
    widgets     ipywidgets wrappers around plain figure functions (``explore_*``)
    exercises   self-checks of the exercises and "predict before you run" questions (``check``, ``reveal``)
    solutions   reference solutions, one module per lesson (``solutions.lesson_LL``), imported on first use

May import: ``core``, ``analysis``, ``support``. Never ``lessons``: a figure or widget of a lesson's
results reads the dataclass the lesson returns, or takes the lesson's function as an argument.
Imported by no other layer of the package (the notebooks use it).
"""

from . import exercises, plots, widgets

__all__ = ["exercises", "plots", "solutions", "widgets"]
