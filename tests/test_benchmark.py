import jax
import pytest

from ntk_lessons.reference import benchmark

pytestmark = pytest.mark.neural_tangents


def test_small_case_runs_agrees_and_reports_the_failing_implementation(capsys):
    rows = benchmark.run_case(width=32, depth=2, d=8, n=6, out_dim=3, dtype="float32", repeats=1, verbose=False)
    by_name = {r.name: r for r in rows}
    assert by_name["neural-tangents impl 3"].seconds is None and "fails" in by_name["neural-tangents impl 3"].note
    working = [r for r in rows if r.seconds is not None]
    assert len(working) == 7
    assert all(r.max_rel_diff < benchmark.AGREE_TOL["float32"] for r in working)
    table = benchmark.format_table(rows, output_bytes=6 * 6 * 9 * 4, param_bytes=4 * 1000)
    assert "x faster than nt" in table and "ours entk structured" in table


def test_main_exit_code_and_table(capsys):
    x64 = jax.config.jax_enable_x64
    try:  # main() switches float64 on for --dtype float64; restore the flag for the other tests
        code = benchmark.main(["--width", "16", "--n", "4", "--out", "2", "--d", "5", "--repeats", "1"])
    finally:
        jax.config.update("jax_enable_x64", x64)
    out = capsys.readouterr().out
    assert code == 0 and "all methods agree" in out and "neural-tangents impl 1" in out
