"""Generator backends behind `rag.generation.Generator`: llama.cpp, OpenAI-compatible HTTP, transformers."""
