"""The nodes of the state machine, imported as ``autorust.nodes``: one module per node; what
they share lives in ``support/`` (``autorust.nodes.support``)."""
