__title__ = "exisone"
__version__ = "0.1.0"
