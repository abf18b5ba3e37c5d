"""Raw-driver reads for the hot path (the token, and validate's reads of an online key).

SQLAlchemy's async layer costs several times the raw driver on these one-row reads, so the reads
every validation makes go straight to the driver: a per-process ``sqlite3`` connection used
synchronously on the event loop (a lookup takes microseconds, less than any thread hop), or a
few psycopg connections in autocommit mode. The statements are written once
(:mod:`.queries`); writes never go through here.
"""

from .reader import FastReader, OnlineKeyRow, TokenRow, fast_reader

__all__ = ["FastReader", "OnlineKeyRow", "TokenRow", "fast_reader"]
