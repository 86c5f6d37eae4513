"""LlamaIndex adapter for RunAPI (see RunAPILLM)."""
