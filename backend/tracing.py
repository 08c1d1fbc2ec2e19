"""Optional OpenTelemetry traces: a span per HTTP request and per SQL statement, and a
``verity.check_run`` span per check run.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is set, and the
``otel`` extra installed; then spans go to that OTLP/HTTP collector. Nothing is
imported otherwise, so the processes pay nothing for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy import Engine

log = logging.getLogger(__name__)
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_provider: TracerProvider | None = None


def configure_tracing(service: str, engine: Engine, app: FastAPI | None = None) -> bool:
    """Exports traces when an OTLP endpoint is configured; True when it does."""
    if not any(os.environ.get(name) for name in _ENDPOINT_VARIABLES):
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the otel extra is not installed")
        return False
    name = os.environ.get("OTEL_SERVICE_NAME", service)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    instrument(provider, engine, app)
    return True


def instrument(provider: TracerProvider, engine: Engine, app: FastAPI | None = None) -> None:
    """Spans from this app and engine go to ``provider`` (tests give an in-memory one)."""
    global _provider
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    _provider = provider
    SQLAlchemyInstrumentor().instrument(engine=engine, tracer_provider=provider)
    if app is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A span when tracing is on (yields it, to add attributes), else nothing (None)."""
    if _provider is None:
        yield None
        return
    with _provider.get_tracer("verity").start_as_current_span(name, attributes=attributes) as s:
        yield s
