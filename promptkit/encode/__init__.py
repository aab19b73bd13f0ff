"""Stage 5 of the data flow: parsed prompts -> text-encoder embeddings for diffusers pipelines.

Behind the ``diffusers`` extra: importing this package imports torch (``import promptkit`` does not).
"""

from .encoder import ARCHITECTURES, PromptEncoder, PromptSchedule, UnsupportedPrompt
from .tokenizer import clip_tokenizer
from .weighting import WEIGHTINGS

__all__ = ["PromptEncoder", "PromptSchedule", "UnsupportedPrompt", "clip_tokenizer", "ARCHITECTURES", "WEIGHTINGS"]
