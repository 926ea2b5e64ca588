"""A network on the digits: the one description of "an mlp at initialisation and the digits it is measured on".

Lessons 03, 04 and 06 measure many such networks, one per width and seed. Each is a
:class:`DigitsNetwork`: a frozen dataclass holding every setting that changes the network
or its inputs, which builds them (:meth:`DigitsNetwork.build`) and is part of the disk-cache
key of every point computed on it (:meth:`DigitsNetwork.key`). How many digits a point
uses is the point's own choice (``build(n)``).

The sweeps accept the fields as keyword arguments next to their own options
(:func:`split_fields` separates them), so a notebook writes
``convergence.convergence_sweep(WIDTHS, SEEDS, regime="last_wide", fixed_width=64, n_train=50)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax

from ..core import checks, models
from ..support import config, data

REGIMES = ("all_wide", "last_wide")


def hidden_widths(regime: str, width: int, depth: int, fixed_width: int | None = None) -> list[int]:
    """The hidden widths of a sweep point: ``[width] * depth`` ("all_wide") or
    ``[fixed_width] * (depth - 1) + [width]`` ("last_wide": only the last hidden layer widens)."""
    if regime == "all_wide":
        return [width] * depth
    if regime == "last_wide":
        if fixed_width is None:
            raise ValueError("regime='last_wide' needs fixed_width (the width n_1 of the layers below the last)")
        return [fixed_width] * (depth - 1) + [width]
    raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DigitsNetwork:
    """A freshly initialised mlp and the digits it is measured on.

    Fields:
      width: the hidden width n that a sweep varies; seed: PRNGKey(seed) draws the parameters.
      regime: "all_wide" (every hidden layer of ``width``) or "last_wide" (only the last; the
        ``depth - 1`` layers below it have ``fixed_width``); see :func:`hidden_widths`.
      parameterization: "ntk" or "standard" (``models.mlp``).
      depth: hidden layers; out_dim: O outputs (digit classes 0 .. O-1); activation: "relu" or
        "erf"; W_std, b_std: σ_w, σ_b (b_std None: no biases).
      data_seed: which digits (``data.digits_inputs(seed=data_seed)``); dtype: of inputs and params
        ("float64" needs ``support.config.enable_float64``).
    """

    width: int
    seed: int
    regime: str = "all_wide"
    parameterization: str = "ntk"
    fixed_width: int | None = None
    depth: int = 2
    out_dim: int = 10
    activation: str = "relu"
    W_std: float = 1.0
    b_std: float | None = 0.1
    data_seed: int = 0
    dtype: str = "float32"

    def __post_init__(self) -> None:
        checks.one_of(self.parameterization, "parameterization", ("ntk", "standard"))
        hidden_widths(self.regime, self.width, self.depth, self.fixed_width)  # regime and fixed_width

    @property
    def hidden_widths(self) -> list[int]:
        """The mlp's hidden widths (:func:`hidden_widths`)."""
        return hidden_widths(self.regime, self.width, self.depth, self.fixed_width)

    def build(self, n: int) -> tuple[Callable, Any, Any, Any]:
        """``(apply_fn, params, x (n, 64), y (n, out_dim) one-hot)``.

        The mlp of :attr:`hidden_widths`, params from PRNGKey(``seed``) cast to ``dtype``; the
        first ``n`` of a fixed shuffle of the digits with labels < out_dim
        (``data.digits_inputs(n, seed=data_seed)``). Cost O(n d + P).
        """
        x, y = data.digits_inputs(n, seed=self.data_seed, out_dim=self.out_dim, dtype=self.dtype)
        init_fn, apply_fn = models.mlp(self.hidden_widths, self.out_dim, activation=self.activation,
                                       W_std=self.W_std, b_std=self.b_std, parameterization=self.parameterization)
        _, params = init_fn(config.key(self.seed), x.shape)
        params = jax.tree_util.tree_map(lambda a: a.astype(x.dtype), params)
        return apply_fn, params, x, y

    def replace(self, **changes: Any) -> DigitsNetwork:
        """A copy with some fields changed (``dataclasses.replace``), e.g. another width and seed."""
        return dataclasses.replace(self, **changes)

    def key(self) -> dict[str, Any]:
        """Every field, as JSON: this network's part of a cache key."""
        return dataclasses.asdict(self)

    @classmethod
    def from_key(cls, key: dict[str, Any]) -> DigitsNetwork:
        """The network :meth:`key` describes (e.g. read back from a cached point)."""
        return cls(**key)


FIELDS = tuple(f.name for f in dataclasses.fields(DigitsNetwork))


def split_fields(keywords: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(network fields, the other keywords)`` of a sweep's keyword arguments."""
    network = {k: v for k, v in keywords.items() if k in FIELDS}
    return network, {k: v for k, v in keywords.items() if k not in FIELDS}
