"""Prometheus metrics at ``GET /metrics`` (``EXISONE_METRICS``), summed across workers."""

from .collect import Metrics
from .settings import MetricsAccess, MetricsSettings

__all__ = ["Metrics", "MetricsAccess", "MetricsSettings"]
