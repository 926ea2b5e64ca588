"""ntk_lessons.support: what every lesson leans on but that is no maths -- switches, data, cache, clocks.

Holds
    config      quick mode (``NTK_LESSONS_QUICK=1``, ``pick``) and float64 (``enable_float64``)
    data        the bundled UCI digits (``load_digits``, ``digits_inputs``, ``digits_as_images``)
    cache       the on-disk cache of sweep points, keyed by configuration, code fingerprint and float64 flag
    timing      wall-clock medians of compiled computations; the machine's flop rate
    runtime     each lesson's measured computing time and memory (``LessonClock``)

May import: ``core.checks`` (the shared input validators) and nothing else of the package.
Imported by ``lessons``, ``teaching`` and ``reference``.
"""

from . import cache, config, data, runtime, timing

__all__ = ["cache", "config", "data", "runtime", "timing"]
