"""qcode: a local agentic coding assistant."""

__version__ = "0.1.0"
