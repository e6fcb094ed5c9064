"""The gateway: every LLM-bound request becomes a GatewayRequest and flows through one pipeline."""

from mcpgw.gateway.request import GatewayRequest, GatewayResult

__all__ = ["GatewayRequest", "GatewayResult"]
