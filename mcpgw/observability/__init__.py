"""Observability helpers: secret masking for recorded data, and the optional OpenTelemetry exporter."""
