"""Versioned prompt templates, imported as ``autorust.prompts``: ``prompts/<agent>/v<N>.yaml``,
loaded as LangChain chat prompts."""

from autorust.prompts.loader import PromptNotFoundError, available_versions, load_prompt

__all__ = ["PromptNotFoundError", "available_versions", "load_prompt"]
