"""Routing: which layer and which models serve a request, cross-checks and escalation."""
