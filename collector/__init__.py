"""AgentLens Collector: agent telemetry in (OTLP/HTTP, AgentLens events), stored, and served back."""

__all__ = ("__version__",)

__version__ = "0.1.0"
