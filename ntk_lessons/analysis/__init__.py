"""ntk_lessons.analysis: what the lessons conclude from their measurements (numpy only).

Holds
    fits        power-law slopes (``loglog_slope``, ``power_law_line``) and fits with 95% bootstrap
                intervals over seeds (``fit_power_law`` -> ``PowerLawFit``, ``fit_floor`` -> ``FloorFit``)
    records     tidy records {setting..., metric, value}: ``select``, ``values_by_seed`` (a width x seed grid)

The functions are re-exported here, so a notebook reads ``analysis.fit_power_law(...)``.

May import: ``ntk_lessons.core`` (its input checks), ``ntk_lessons.support.config`` (the seed offset
that shifts bootstrap resamples) and numpy. Imported by ``lessons``,
``teaching`` and ``reference``; never by ``core`` or ``support``.
"""

from .fits import FloorFit, PowerLawFit, fit_floor, fit_power_law, loglog_slope, power_law_line
from .records import select, values_by_seed

__all__ = ["FloorFit", "PowerLawFit", "fit_floor", "fit_power_law", "fits", "loglog_slope", "power_law_line",
           "records", "select", "values_by_seed"]
