"""XLA compile options for the model's ``jax.jit`` on the CPU.

jaxlib's XLA:CPU hands dot-centred subgraphs to YNNPACK ("YNN fusions"). In Video Swin that fuses
each window attention (``q kᵀ``, bias, mask, softmax, ``· v``) into one library call that runs far
below the CPU's matmul rate; with YNN fusions off, XLA's own fusions and its Eigen dots run the
Swin-T forward ~1.45x faster (``benchmarks/RESULTS.md``, "Keras backends"). The option is given per
compiled function, so a user's other ``jax.jit`` programs keep jaxlib's defaults.
"""

from __future__ import annotations

import functools
import logging

logger = logging.getLogger(__name__)

#: Per-executable XLA options of the model's jitted inference forward on the CPU: no YNN fusions.
JAX_CPU_COMPILER_OPTIONS: dict[str, str] = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.lru_cache(maxsize=1)
def jax_compiler_options() -> dict[str, str] | None:
    """:data:`JAX_CPU_COMPILER_OPTIONS` where JAX computes on the CPU and its XLA knows the option;
    None elsewhere (GPUs, and older jaxlib without YNN fusions, which rejects an unknown option)."""
    import jax
    import numpy as np

    if jax.default_backend() != "cpu":
        return None
    probe = jax.jit(lambda x: x + 1, compiler_options=JAX_CPU_COMPILER_OPTIONS)
    try:
        probe.lower(np.float32(0)).compile()
    except jax.errors.JaxRuntimeError as error:  # "No such compile option": nothing to turn off
        logger.debug("XLA:CPU keeps its defaults: %s", error)
        return None
    return dict(JAX_CPU_COMPILER_OPTIONS)
