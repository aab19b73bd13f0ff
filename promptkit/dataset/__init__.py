"""Caption-dataset tooling: lint, normalize and report millions of tag captions (kohya-style sidecars)."""

from .analyze import CaptionAnalyzer, DatasetStats, Finding, analyze_captions, lint_captions
from .files import CAPTION_EXTENSIONS, FileResult, find_captions, process_files, write_atomic
from .normalize import CaptionNormalizer, NormalizeOptions, normalize_captions


class NormalizerFactory:
    """Builds a :class:`CaptionNormalizer` inside each worker process (tag databases do not pickle)."""

    def __init__(self, options: NormalizeOptions, sources: list[str] | None = None) -> None:
        self.options = options
        self.sources = sources

    def __call__(self) -> CaptionNormalizer:
        db = None
        if self.options.needs_db:
            from ..tags import TagDB, default_db

            db = TagDB.from_names(self.sources) if self.sources else default_db()
        return CaptionNormalizer(self.options, db)


__all__ = ["NormalizeOptions", "CaptionNormalizer", "NormalizerFactory", "normalize_captions", "CaptionAnalyzer",
           "DatasetStats", "Finding", "analyze_captions", "lint_captions", "find_captions", "process_files",
           "FileResult", "write_atomic", "CAPTION_EXTENSIONS"]
