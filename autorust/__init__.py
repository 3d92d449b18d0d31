"""autorust: an image of a programming task in, verified working code out.

One import name for the whole distribution: the state machine (``autorust.graph``), its nodes
(``autorust.nodes``), prompt templates (``autorust.prompts``) and the sandbox
(``autorust.sandbox``) live in the repository's top-level folders and are mapped under this
package at install time (``pyproject.toml``: ``package-dir``); the application that drives the
machine (CLI, runtime, storage, reporting, model clients, imaging) lives here.
"""
