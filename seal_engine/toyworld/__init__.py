"""A toy sticker world: procedurally drawn 64x64 creatures with known attributes.

It exists so SEAL's effect can be *measured* on a CPU: a tiny latent diffusion model
trained on these renders (shipped in `seal_engine/data/toyworld/pipeline`), detectors
that read every attribute back, and a declared set of held-out appearances that the
model never saw, to personalize. See docs/toyworld.md.

No heavy import happens here; the submodules that need torch import it inside functions.
"""

from .attributes import (  # noqa: F401
    ATTRIBUTES,
    HELD_OUT_APPEARANCES,
    Sticker,
    random_sticker,
)

__all__ = ["ATTRIBUTES", "HELD_OUT_APPEARANCES", "Sticker", "random_sticker"]
