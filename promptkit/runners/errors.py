"""The runners' errors: each is one line a person can act on (the CLI prints it and exits 2)."""

from __future__ import annotations


class GenerationError(ValueError):
    """Settings that cannot work for this model, found before generating."""


class GenerationWarning(UserWarning):
    """Something promptkit tells the user about a run (not a third-party notice)."""


class ModelFileError(GenerationError):
    """A model file that is missing, damaged, of the wrong kind, or for another model family."""


class LoraError(GenerationError):
    """A ``<lora:...>`` (or other extra network) in a prompt that cannot be applied as written."""
