"""The bundled lint rules (codes PK1xx syntax, PK2xx tags, PK3xx model, PK4xx
dynamic-prompts templates); ``linter/registry.py`` lists them."""
