"""The six expressions of SASE-FE and the names of the expression models."""
from __future__ import annotations

EXPRESSIONS: tuple[str, ...] = ("anger", "contentment", "disgust", "happiness", "sadness", "surprise")
POOLED = "pooled"
EXPRESSION_MODELS: tuple[str, ...] = (POOLED, *EXPRESSIONS)
LABELS: tuple[str, ...] = ("genuine", "fake")  # class index 0 = genuine, 1 = fake


def check_expression_model(name: str) -> str:
    """Return ``name`` if it is 'pooled' or one of the six expressions, else raise ValueError."""
    if name not in EXPRESSION_MODELS:
        raise ValueError(f"unknown expression model {name!r}; choose one of: {', '.join(EXPRESSION_MODELS)}")
    return name
