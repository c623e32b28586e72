"""LangGraph workflows, installed as ``confluence_agent.workflows``."""
