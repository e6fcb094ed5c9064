"""Usage analytics over the recorded LLM calls and traces, and the cost-anomaly guardrail."""
