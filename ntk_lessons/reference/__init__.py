"""ntk_lessons.reference: neural-tangents, the reference the package is checked against -- its only importers.

Holds
    nt_reference    ``import_neural_tangents`` (quietly, once), ``stax_mlp`` (the stax network equal to
                    ``core.models.mlp``, with its infinite-width ``kernel_fn``), ``entk`` / ``entk_fn``
                    (neural-tangents' empirical NTK)
    conv_net        the digits conv net of lessons 04-05 (``digits_conv_net``, built with stax)
    optional        cells that need neural-tangents run where it imports and print one line elsewhere
                    (``skip_unless_neural_tangents``)
    benchmark       ``python -m ntk_lessons.reference.benchmark``: our kernels against neural-tangents'

neural-tangents 0.6.5 imports only with jax <= 0.5.3: no module here imports it (or jax) when
it is imported, only when a function needs it.

May import: ``core``, ``analysis``, ``support``. Imported by ``lessons`` only inside the
functions that need neural-tangents; never by ``core``, ``analysis``, ``support`` or ``teaching``.
"""

from . import conv_net, nt_reference, optional

__all__ = ["conv_net", "nt_reference", "optional"]
