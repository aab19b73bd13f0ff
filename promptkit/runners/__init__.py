"""Stage 6 of the data flow: bundled diffusers runners per model family that reproduce A1111, writing its metadata.

Behind the ``diffusers`` extra (imports torch and diffusers).
"""

from .errors import GenerationError, LoraError, ModelFileError
from .noise import ImageNoise, NoiseError, PhiloxGenerator
from .replay import Replay, ReplayError, read_infotext, replay_settings
from .runner import Generation, GenerationWarning, Runner, detect_vpred
from .samplers import SAMPLERS, SamplerError, SamplerSpec, resolve_sampler
from .scheduler import A1111Scheduler, SamplerOptions, SamplingPlan, plan_sampling
from .schedules import SCHEDULE_TYPES, DiscreteSchedule, FlowSchedule, ScheduleError, ScheduleOptions

__all__ = ["Runner", "Generation", "GenerationError", "GenerationWarning", "ModelFileError", "LoraError",
           "detect_vpred", "SAMPLERS",
           "SCHEDULE_TYPES", "SamplerError", "SamplerSpec", "resolve_sampler", "A1111Scheduler", "SamplerOptions",
           "SamplingPlan", "plan_sampling", "DiscreteSchedule", "FlowSchedule", "ScheduleError", "ScheduleOptions",
           "ImageNoise", "NoiseError", "PhiloxGenerator", "Replay", "ReplayError", "read_infotext",
           "replay_settings"]
