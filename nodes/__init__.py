"""One module per node of the state machine, plus what only nodes share (shared.py)."""
