"""``python -m autorust``: the same as the ``autorust`` command."""

from autorust.cli.main import main

main()
