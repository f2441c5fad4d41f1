"""MCP servers as tool sources: config and trust (light), client and adapter (import the SDK)."""
