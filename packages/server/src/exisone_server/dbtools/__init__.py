"""Moving and keeping the data: ``db copy`` between databases, ``backup`` and ``restore``."""
