"""Stage 1 of the data flow: text -> lossless tree (``parse``), and tree -> text (``render``/``convert``)."""

from .errors import ConversionError, PromptSyntaxError
from .parse import parse
from .prompt import Prompt, SubPrompt, Tag

__all__ = ["parse", "Prompt", "Tag", "SubPrompt", "PromptSyntaxError", "ConversionError"]
