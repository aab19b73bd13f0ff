"""The ``promptkit`` command line (click). Entry point: :func:`promptkit.cli.main.main`."""
