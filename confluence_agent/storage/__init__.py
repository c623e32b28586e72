"""confluence_agent.storage."""
