"""Model families as data: what each model card says about prompting and running it."""

from .model import Presets, Profile, Range, Slot
from .registry import ProfileError, all_profiles, bundled_ids, load_profile

__all__ = ["Profile", "Range", "Slot", "Presets", "ProfileError", "load_profile", "all_profiles", "bundled_ids"]
