__title__ = "exisone"
__version__ = "0.2.0"
