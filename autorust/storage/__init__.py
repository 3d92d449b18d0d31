"""Checkpoint stores (SQLite, PostgreSQL) and the claims that let workers share a batch."""
