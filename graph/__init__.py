"""The state machine, imported as ``autorust.graph``: typed state, run context, routing and
the workflow that wires the nodes."""
