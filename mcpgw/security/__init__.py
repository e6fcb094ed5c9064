"""Security: API keys and roles for the TCP listener (auth), prompt/output policy, secret detection."""
