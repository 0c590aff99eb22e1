"""llm-dlp: data-loss prevention for LLM API traffic."""
