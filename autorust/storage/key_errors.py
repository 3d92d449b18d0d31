"""The one error of encrypted checkpoint stores (kept light: the CLI imports it to report it)."""


class CheckpointKeyError(ValueError):
    """The store and the key do not match (missing, wrong). The message never shows a key."""
