"""Raw-driver reads for the hot path (token lookup, ``validate`` with an online key).

SQLAlchemy's async layer costs 2–9× the raw driver on these one-row reads (stack.md §3.4, §4),
so the two reads every validation makes go straight to the driver: a per-process ``sqlite3``
connection used synchronously on the event loop (a lookup takes microseconds, less than any
thread hop), or a few psycopg connections in autocommit mode. Same SQL semantics as the
general (SQLAlchemy) path, which the tests compare it with; writes never go through here.
"""

from .reader import FastReader, OnlineKeyRow, TokenRow, fast_reader

__all__ = ["FastReader", "OnlineKeyRow", "TokenRow", "fast_reader"]
