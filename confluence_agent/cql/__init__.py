"""confluence_agent.cql."""
