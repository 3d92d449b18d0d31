"""The state machine: typed state, run context, routing and the workflow that wires the nodes."""
