"""managed-llm's Elasticsearch half: a declarative file in, a converged cluster out."""

__version__ = "0.1.0"
