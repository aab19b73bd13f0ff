"""The bundled lint rules (codes PK1xx syntax, PK2xx tags, PK3xx model); ``linter/registry.py`` lists them."""
