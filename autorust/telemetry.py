"""OpenTelemetry traces (optional extra ``otel``), off unless the standard variables ask for them.

Spans: one per run (``autorust.run``, with the verdict), one per graph step
(``autorust.step <node>``), one per model call (``chat <model>``, GenAI semantic conventions)
and one per sandbox job (``autorust.sandbox``). Attributes are names, ids and numbers only:
never prompt text, images, code or keys.

On when ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
``OTEL_TRACES_EXPORTER`` (``otlp`` or ``console``; ``none`` turns it off) is set; the OTLP
exporter (HTTP/protobuf) reads the other ``OTEL_*`` variables itself (headers, timeout).
This module imports no OpenTelemetry package until tracing is switched on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SCOPE = "autorust"
ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
AttrValue = str | bool | int | float

_tracer: Any = None  # an opentelemetry Tracer while tracing is on
_provider: Any = None  # the provider this module made (shut down at exit)


def requested() -> bool:
    """Whether the environment asks for traces (cheap: no import)."""
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none" or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return bool(exporter) or any(os.environ.get(name) for name in ENDPOINT_VARS)


def install(provider: Any) -> None:
    """Trace through ``provider`` (an SDK ``TracerProvider``; tests pass one with an in-memory
    exporter); ``None`` switches tracing off."""
    global _tracer
    _tracer = None if provider is None else provider.get_tracer(SCOPE)


def setup_from_env() -> bool:
    """Switch tracing on as the ``OTEL_*`` variables say; False when they do not ask for it.
    Raises ``RuntimeError`` naming the extra to install when OpenTelemetry is missing."""
    global _provider
    if not requested():
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        raise RuntimeError(
            "OTEL_* variables ask for traces but OpenTelemetry is not installed: "
            "pip install 'autorust[otel]'"
        ) from None
    names = {p.strip() for p in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")}
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", SCOPE)})
    provider = TracerProvider(resource=resource)
    if "console" in names:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    if "otlp" in names or not names - {"console", ""}:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _provider = provider
    install(provider)
    return True


def shutdown() -> None:
    """Export what is buffered and stop (the CLI calls it on exit)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None
    install(None)


def enabled() -> bool:
    return _tracer is not None


@contextmanager
def span(name: str, **attributes: AttrValue | None) -> Iterator[Any]:
    """A span (current for what runs inside), or None when tracing is off. An exception
    marks the span as an error with the exception's type only (messages may quote data)."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import Status, StatusCode

    with _tracer.start_as_current_span(
        name, attributes=_clean(attributes), record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            current.set_status(Status(StatusCode.ERROR))
            current.set_attribute("error.type", type(exc).__name__)
            raise


def annotate(current: Any, **attributes: AttrValue | None) -> None:
    """Set attributes on a span from ``span`` (no-op for None)."""
    if current is not None:
        current.set_attributes(_clean(attributes))


def _clean(attributes: dict[str, AttrValue | None]) -> dict[str, AttrValue]:
    return {key.replace("__", "."): value for key, value in attributes.items() if value is not None}


def traced_step(name: str, node: Any, agent: str | None = None) -> Any:
    """``node`` in an ``autorust.step <name>`` span (a graph's ``step_wrapper``). A pause for
    approval or a drain ends the span normally (``autorust.paused``), not as an error."""
    import functools

    from langgraph.errors import GraphBubbleUp

    @functools.wraps(node)
    async def traced(state: Any, runtime: Any) -> Any:
        with span(
            f"autorust.step {name}",
            autorust__node=name,
            gen_ai__agent__name=agent,
            autorust__iteration=getattr(state, "iteration", None),
        ) as current:
            try:
                update = await node(state, runtime)
            except GraphBubbleUp:
                annotate(current, autorust__paused=True)
                raise
            if isinstance(update, dict) and isinstance(update.get("status"), str):
                annotate(current, autorust__status=update["status"])
            return update

    return traced
