"""The bundled lint rules; importing this package registers them (codes PK1xx syntax, PK2xx tags, PK3xx model)."""

from . import model, syntax, tags  # noqa: F401
