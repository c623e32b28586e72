"""confluence_agent.sandbox."""
