"""LangChain adapter for RunAPI (see ChatRunAPI)."""
