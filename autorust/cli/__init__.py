"""The ``autorust`` command line (typer)."""
