"""Running the state machine: one image, a batch, the agent scheduler, remote servers, history."""
