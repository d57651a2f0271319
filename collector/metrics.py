"""The collector's own Prometheus metrics, one registry per application (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ("CONTENT_TYPE", "Metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Counters and histograms about ingest, requests and jobs."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events_ingested = Counter(
            "agentlens_events_ingested", "Events committed to the store.", ["source"], registry=r)
        self.events_duplicate = Counter(
            "agentlens_events_duplicate", "Events recognised as duplicates of stored ones.", ["source"], registry=r)
        self.requests_rejected = Counter(
            "agentlens_requests_rejected", "Requests answered with a 4xx or 503 on ingest routes.",
            ["route", "status"], registry=r)
        self.queue_events = Gauge("agentlens_ingest_queue_events", "Events waiting for the writer.", registry=r)
        self.queue_bytes = Gauge("agentlens_ingest_queue_bytes", "Bytes of events waiting for the writer.", registry=r)
        self.commit_seconds = Histogram(
            "agentlens_commit_seconds", "Duration of one group commit.", buckets=_LATENCY_BUCKETS, registry=r)
        self.commit_events = Histogram(
            "agentlens_commit_events", "Events per group commit.",
            buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000), registry=r)
        self.request_seconds = Histogram(
            "agentlens_http_request_seconds", "HTTP request latency.", ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS, registry=r)
        self.job_runs = Counter("agentlens_job_runs", "Scheduled job runs.", ["job", "outcome"], registry=r)
        self.webhook_deliveries = Counter(
            "agentlens_webhook_deliveries", "Alert webhook deliveries by final outcome.", ["outcome"], registry=r)
        self.stream_clients = Gauge("agentlens_stream_clients", "Connected live-stream clients.", registry=r)
        self.stream_clients_dropped = Counter(
            "agentlens_stream_clients_dropped", "Live-stream clients dropped by the server.", ["reason"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
