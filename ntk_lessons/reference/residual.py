"""Lesson 07's residual network with LayerNorm, written with neural-tangents' stax combinators.

The course's own plain-JAX version is ``core.models.resnet`` (the lesson runs on it, with or without
neural-tangents); this is the same network from ``stax.serial``, ``stax.FanOut``, ``stax.parallel``,
``stax.FanInSum`` and ``stax.LayerNorm``, so that a test (and a cell of lesson 07) can check that both give the
same outputs and eNTK for the same params. neural-tangents is imported when :func:`stax_resnet` is called.
"""

from __future__ import annotations

from typing import Any

from .nt_reference import import_neural_tangents


def stax_resnet(spec: Any) -> tuple[Any, Any, Any]:
    """stax's ``(init_fn, apply_fn, kernel_fn)`` of the network that ``spec`` (a ``core.models.ResNetSpec``,
    e.g. ``models.resnet(...)[1].spec``) describes::

        Dense_n = stax.Dense(n, W_std, b_std, parameterization=...)
        block = stax.serial(stax.FanOut(2),
                            stax.parallel(stax.serial(stax.LayerNorm(), stax.Relu(), Dense_width), stax.Identity()),
                            stax.FanInSum())
        stax.serial(Dense_width, *[block] * blocks, [Dense_head_width,] stax.LayerNorm(), stax.Relu(), Dense_O)

    Its params pytree and its random draws are those of ``models.resnet``'s init_fn for the same key.
    TypeError for anything but a ResNetSpec. Cost: building the functions, O(1).
    """
    from ..core import models  # here, not at the top: importing this module imports no jax

    if not isinstance(spec, models.ResNetSpec):
        raise TypeError("spec must be a core.models.ResNetSpec (models.resnet(...)[1].spec), "
                        f"got {type(spec).__name__}")
    stax = import_neural_tangents().stax

    def dense(n):
        return stax.Dense(n, W_std=spec.W_std, b_std=spec.b_std, parameterization=spec.parameterization)

    block = stax.serial(stax.FanOut(2),
                        stax.parallel(stax.serial(stax.LayerNorm(), stax.Relu(), dense(spec.width)), stax.Identity()),
                        stax.FanInSum())
    head = [] if spec.head_width is None else [dense(spec.head_width)]
    return stax.serial(dense(spec.width), *[block] * spec.blocks, *head, stax.LayerNorm(), stax.Relu(),
                       dense(spec.out_dim))
