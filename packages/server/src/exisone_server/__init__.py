"""exisone-server: the self-hostable ExisOne license server."""

__version__ = "0.1.0"
