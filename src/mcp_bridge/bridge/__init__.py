"""The audited MCP gateway: fronts MCP servers and records every operation in the audit trail."""
