"""The digits conv net of lessons 04 and 05, built with neural-tangents' stax.

It is the lessons' example of a network that is not an mlp; built with ``stax`` so that its
infinite-width kernel (``kernel_fn``) comes with it, which is why it lives beside the
reference. Its inputs are the digits as 8 x 8 images (``support.data.digits_as_images``).
neural-tangents is imported when :func:`digits_conv_net` is called, not when this module is.
"""

from __future__ import annotations

from typing import Any

from .nt_reference import import_neural_tangents

CONV_POOLINGS = ("flatten", "global_avg")


def digits_conv_net(
    channels: int | tuple[int, ...] | list[int],
    *,
    out_dim: int = 10,
    W_std: float = 2.0**0.5,
    b_std: float | None = 0.0,
    pooling: str = "flatten",
    filter_size: int = 3,
) -> tuple[Any, Any, Any]:
    """A stax convolutional network for the 8 x 8 digits: (Conv, Relu) per entry of ``channels``,
    then pooling, then Dense.

    Every Conv is ``stax.Conv(c, (filter_size, filter_size), padding="SAME", W_std, b_std)``
    in NTK parameterisation; ``pooling`` is "flatten" (``stax.Flatten``: the readout sees
    every pixel of every channel) or "global_avg" (``stax.GlobalAvgPool``: one number per
    channel, translation invariant); the readout is ``stax.Dense(out_dim, W_std, b_std)``.

    Args:
      channels: the number of channels of each conv layer (an int for one layer).
      out_dim: number of outputs O.  W_std, b_std: σ_w, σ_b (b_std None = no biases).
      pooling: "flatten" or "global_avg".  filter_size: the side of each square filter.

    Returns:
      stax's ``(init_fn, apply_fn, kernel_fn)``. Inputs are NHWC, (N, 8, 8, 1) (see
      ``support.data.digits_as_images``); ``apply_fn(params, x)`` is (N, O) at cost
      O(N · 64 · filter_size² · sum_l c_(l-1) c_l + N · features · O); ``kernel_fn(x1, x2, "ntk")``
      is the infinite-width kernel (N1, N2), at cost O(N1 N2 · 64 · filter_size² · depth)
      for "flatten" (only same-pixel covariances are needed) and O(N1 N2 · 64² · filter_size² · depth)
      for "global_avg" (every pixel pair).
      Its eNTK and pNTK come from ``kernels.entk(apply_fn, params, x, method="jacobian")``
      and ``kernels.pntk(..., method="jacobian")``.

    Note: with ``jax_enable_x64`` on, neural-tangents 0.6.5's Conv mixes float64 into a
    float32 convolution and fails; use float64 inputs and params then, or float32 with x64 off.
    """
    from ..core import checks  # here, not at the top: importing this module imports no jax

    widths = (channels,) if not isinstance(channels, (tuple, list)) else tuple(channels)
    if not widths:
        raise ValueError("channels must name at least one conv layer, got an empty sequence")
    widths = tuple(checks.positive_int(c, f"channels[{i}]") for i, c in enumerate(widths))
    out_dim = checks.positive_int(out_dim, "out_dim")
    W_std = checks.nonnegative_float(W_std, "W_std")
    b_std = checks.nonnegative_float(b_std, "b_std", allow_none=True)
    pooling = checks.one_of(pooling, "pooling", CONV_POOLINGS)
    filter_size = checks.positive_int(filter_size, "filter_size")
    stax = import_neural_tangents().stax
    layers = []
    for width in widths:
        layers += [stax.Conv(width, (filter_size, filter_size), padding="SAME", W_std=W_std, b_std=b_std), stax.Relu()]
    layers.append(stax.Flatten() if pooling == "flatten" else stax.GlobalAvgPool())
    layers.append(stax.Dense(out_dim, W_std=W_std, b_std=b_std))
    return stax.serial(*layers)
