"""exisone-server: the self-hostable ExisOne license server."""

__version__ = "0.2.0"
