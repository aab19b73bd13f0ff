"""Stage 6 of the data flow: bundled diffusers runners per model family, writing A1111-style metadata.

Behind the ``diffusers`` extra (imports torch and diffusers).
"""

from .runner import Generation, GenerationError, Runner, detect_vpred
from .samplers import SAMPLERS, SCHEDULE_TYPES, SamplerError, make_scheduler

__all__ = ["Runner", "Generation", "GenerationError", "detect_vpred", "make_scheduler", "SamplerError",
           "SAMPLERS", "SCHEDULE_TYPES"]
