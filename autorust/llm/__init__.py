"""Chat models: the OpenAI-compatible client factory, structured output, the scripted model."""
