"""mlwarden: security guardrails for AWS AI/ML workloads."""

__version__ = "0.1.0"
