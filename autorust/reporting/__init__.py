"""What a run leaves behind: per-item folders, batch summaries and reports, usage, logs."""
