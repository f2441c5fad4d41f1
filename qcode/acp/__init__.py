"""`qcode acp`: qcode as an Agent Client Protocol agent over stdio (editors such as Zed)."""
