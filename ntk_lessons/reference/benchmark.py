"""Benchmark: our eNTK methods and pNTK against neural-tangents, in one run, on the same inputs.

    python -m ntk_lessons.reference.benchmark          # default: 2 hidden layers of 1024, d=64, N=100, O=10, float32
    python -m ntk_lessons.reference.benchmark --sweep  # also: how the ratio moves with width and with O
    python -m ntk_lessons.reference.benchmark --help

For every computation it prints the median wall time over ``--repeats`` runs (after one
compiling warm-up run), the speed-up over neural-tangents' fastest working
implementation, the peak memory XLA plans for it (arguments + output + temporaries, from
the compiled program's memory analysis) as a multiple of output kernel + parameters, and
the largest deviation from the reference kernel. neural-tangents' implementation 3
(STRUCTURED_DERIVATIVES) fails on jax 0.5.3; the run tries it and reports the failure.
Exits non-zero if any working method disagrees with the reference.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Callable

import jax
import numpy as np

from ..core import cost, kernels, models
from ..support import config, timing
from . import nt_reference

AGREE_TOL = {"float32": 1e-4, "float64": 1e-10}


@dataclasses.dataclass
class Row:
    name: str
    seconds: float | None
    peak_bytes: int | None
    max_rel_diff: float | None
    note: str = ""


OURS = ("ours entk structured", "ours entk jacobian", "ours entk ntk_vp", "ours pntk structured", "ours pntk jacobian")


def run_case(*, width: int, depth: int, d: int, n: int, out_dim: int, dtype: str, repeats: int,
             nt_implementations=(1, 2, 3), ours: tuple[str, ...] = OURS, seed: int = 0,
             verbose: bool = True) -> list[Row]:
    """Time neural-tangents' ``nt_implementations`` and our computations named in ``ours`` (see
    ``OURS``) on one network and one batch; return the table rows (see module docstring).
    The first working computation is the reference for the agreement column.

    float64 needs ``config.enable_float64()`` (``main`` calls it for ``--dtype float64``).
    """
    init_fn, apply_fn = models.mlp([width] * depth, out_dim, W_std=1.0, b_std=0.1)
    _, params = init_fn(jax.random.PRNGKey(seed), (-1, d), dtype=dtype)
    x = jax.random.normal(jax.random.PRNGKey(seed + 1), (n, d), dtype=dtype)
    say = print if verbose else (lambda *a, **k: None)

    candidates: list[tuple[str, Callable[[], jax.Array], object]] = []
    for impl in nt_implementations:
        fn = nt_reference.entk_fn(apply_fn, implementation=impl)
        # fn is jitted: the third item is what cost.compiled_cost lowers
        candidates.append((f"neural-tangents impl {impl}", lambda fn=fn: fn(x, None, params), (fn, x, None, params)))
    inputs = kernels.prepare(apply_fn, params, x)
    for kernel, method in [("entk", "structured"), ("entk", "jacobian"), ("entk", "ntk_vp"),
                           ("pntk", "structured"), ("pntk", "jacobian")]:
        fn = getattr(kernels, kernel)
        program, args = kernels.program(apply_fn, params, inputs, method, kernel=kernel)
        candidates.append((f"ours {kernel} {method}",
                           lambda fn=fn, method=method: fn(apply_fn, params, x, method=method), (program, *args)))
    candidates = [c for c in candidates if c[0].startswith("neural") or c[0] in ours]

    reference = None
    rows: list[Row] = []
    for name, call, lowering in candidates:
        say(f"  timing {name} ...", file=sys.stderr, flush=True)
        try:
            result = jax.block_until_ready(call())
        except Exception as err:  # noqa: BLE001 -- reported in the table, as the issue asks
            rows.append(Row(name, None, None, None, f"fails: {type(err).__name__}: {str(err).splitlines()[0][:70]}"))
            continue
        if reference is None:
            reference = np.asarray(result, dtype=np.float64)
        want = reference.sum((2, 3)) / out_dim if "pntk" in name else reference
        diff = float(np.max(np.abs(np.asarray(result, np.float64) - want)) / np.max(np.abs(want)))
        seconds = timing.median_seconds(call, repeats=repeats)
        peak = cost.compiled_cost(*lowering)["peak_bytes"] if lowering is not None else None
        rows.append(Row(name, seconds, peak, diff))
        del result
    return rows


def format_table(rows: list[Row], *, output_bytes: int, param_bytes: int) -> str:
    """The table: time, x speed-up over neural-tangents' fastest, peak memory / (output + params), agreement."""
    nt_times = [r.seconds for r in rows if r.name.startswith("neural") and r.seconds is not None]
    fastest = min(nt_times) if nt_times else None
    lines = [f"{'computation':26s} {'median s':>10s} {'x faster than nt':>17s} {'peak MiB':>9s} "
             f"{'peak/(out+params)':>18s} {'max rel diff':>13s}"]
    for r in rows:
        if r.seconds is None:
            lines.append(f"{r.name:26s} {r.note}")
            continue
        speed = f"{fastest / r.seconds:17.1f}" if fastest else f"{'n/a':>17s}"
        peak = f"{r.peak_bytes / 2**20:9.1f} {r.peak_bytes / (output_bytes + param_bytes):18.2f}" \
            if r.peak_bytes else f"{'n/a':>9s} {'n/a':>18s}"
        lines.append(f"{r.name:26s} {r.seconds:10.4f} {speed} {peak} {r.max_rel_diff:13.1e}")
    return "\n".join(lines)


def _agree(rows: list[Row], dtype: str) -> bool:
    """True when every working computation matches the reference within ``AGREE_TOL[dtype]``."""
    return all(r.max_rel_diff is None or r.max_rel_diff < AGREE_TOL[dtype] for r in rows)


def _case(args, *, sweep: bool = False, **over) -> tuple[str, list[Row]]:
    cfg = dict(width=args.width, depth=args.depth, d=args.d, n=args.n, out_dim=args.out, dtype=args.dtype,
               repeats=args.repeats)
    cfg.update(over)
    itemsize = np.dtype(cfg["dtype"]).itemsize
    n_params = sum((a + 1) * b for a, b in zip([cfg["d"]] + [cfg["width"]] * cfg["depth"],
                                               [cfg["width"]] * cfg["depth"] + [cfg["out_dim"]]))
    rows = run_case(**cfg, nt_implementations=(1, 2) if sweep else (1, 2, 3),
                    ours=("ours entk structured",) if sweep else OURS)
    title = (f"width {cfg['width']} x {cfg['depth']} hidden layers, d={cfg['d']}, N={cfg['n']}, O={cfg['out_dim']}, "
             f"{cfg['dtype']}, P={n_params:,}, median of {cfg['repeats']}")
    table = format_table(rows, output_bytes=cfg["n"] ** 2 * cfg["out_dim"] ** 2 * itemsize,
                         param_bytes=n_params * itemsize)
    return f"{title}\n{table}", rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--out", type=int, default=10)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sweep", action="store_true",
                        help="also sweep the width (at --out) and O (at --sweep-out-width): "
                             "structured vs neural-tangents")
    parser.add_argument("--sweep-widths", default="128,256,512,1024")
    parser.add_argument("--sweep-outs", default="1,3,10,30")
    parser.add_argument("--sweep-out-width", type=int, default=512)
    args = parser.parse_args(argv)
    if args.dtype == "float64":
        config.enable_float64()
    print(f"jax {jax.__version__}, neural-tangents {nt_reference.import_neural_tangents().__version__}, "
          f"backend {jax.default_backend()}, {jax.device_count()} device(s)\n")
    text, rows = _case(args)
    print(text + "\n", flush=True)
    ok = _agree(rows, args.dtype)
    if args.sweep:
        sweeps = (("width", {}, "width", args.sweep_widths),
                  ("O", {"width": args.sweep_out_width}, "out_dim", args.sweep_outs))
        for label, fixed, key, values in sweeps:
            print(f"--- sweep over {label}: speed-up of our structured eNTK over neural-tangents' fastest ---")
            for v in map(int, values.split(",")):
                text, rows = _case(args, sweep=True, **fixed, **{key: v})
                ok &= _agree(rows, args.dtype)
                print(text + "\n", flush=True)
    print("all methods agree" if ok else "DISAGREEMENT: some method differs from the reference beyond tolerance")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
