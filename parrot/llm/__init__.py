"""Local LLM: GGUF models run by the C engine in parrot/llm/core (module _core)."""
from .engine import GREEDY, Model, ModelError, Sampling

__all__ = ["Model", "ModelError", "Sampling", "GREEDY"]
