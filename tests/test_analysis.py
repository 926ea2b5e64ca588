"""The fits the lessons assert on (known exponents, floors) and the tidy records they read."""

import numpy as np
import pytest

from ntk_lessons import analysis


def test_fit_power_law_recovers_a_known_exponent_with_an_interval_that_covers_it():
    rng = np.random.default_rng(0)
    widths = np.array([16, 64, 256, 1024, 4096])
    values = 3.0 * widths[:, None] ** -0.5 * np.exp(rng.normal(0, 0.1, size=(5, 8)))
    fit = analysis.fit_power_law(widths, values)
    assert fit.low <= -0.5 <= fit.high and fit.high - fit.low < 0.2 and abs(fit.slope + 0.5) < 0.05
    slope, low, high = fit  # unpacks as (slope, low, high)
    assert low < slope < high


def test_fit_floor_finds_a_floor_only_where_there_is_one():
    rng = np.random.default_rng(1)
    widths = np.array([64, 256, 1024, 4096, 16384])
    noise = np.exp(rng.normal(0, 0.03, size=(5, 6)))
    with_floor = np.sqrt(4.0 / widths[:, None] + 0.01) * noise
    without = np.sqrt(4.0 / widths[:, None]) * noise
    f = analysis.fit_floor(widths, with_floor)
    assert f.c_low > 0 and abs(f.floor - 0.1) < 0.02
    g = analysis.fit_floor(widths, without)
    assert g.c_low < 1e-4 and g.floor < 0.01


def test_power_law_line_goes_through_exact_data():
    x = np.array([2.0, 4.0, 8.0])
    assert np.allclose(analysis.power_law_line(x, 5 * x**-1.5, analysis.loglog_slope(x, 5 * x**-1.5), [16.0]),
                       5 * 16.0**-1.5)


def test_values_by_seed_arranges_tidy_records_as_a_grid():
    records = [dict(width=w, seed=s, metric=m, value=w + s / 10) for w in (8, 4) for s in (1, 0) for m in "ab"]
    widths, values = analysis.values_by_seed(records, metric="a")
    assert widths.tolist() == [4, 8] and values.tolist() == [[4.0, 4.1], [8.0, 8.1]]
    assert len(analysis.select(records, width=4)) == 4
    with pytest.raises(ValueError, match="more than one record"):
        analysis.values_by_seed(records)
    with pytest.raises(ValueError, match="cover every"):
        analysis.values_by_seed(records[1:], metric="a")


@pytest.mark.parametrize("call, match", [
    (lambda: analysis.fit_power_law([1, 2, 3], np.ones((2, 3))), "values_by_seed"),
    (lambda: analysis.fit_power_law([1], np.ones((1, 3))), "widths"),
    (lambda: analysis.fit_power_law([1, 2], -np.ones((2, 3))), "positive"),
    (lambda: analysis.values_by_seed([], metric="a"), "no records"),
])
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()
