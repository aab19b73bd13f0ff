"""Stage 2 of the data flow: tags normalized and looked up in the bundled tag databases."""

from .db import TagDB, TagInfo, default_db
from .sources import TagCategory, TagDataError, TagSource

__all__ = ["TagDB", "TagInfo", "TagCategory", "TagSource", "TagDataError", "default_db"]
