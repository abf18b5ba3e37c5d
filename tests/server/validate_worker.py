"""A validating process for the row-cache tests:
``python -m tests.server.validate_worker DATA_DIR URL``.

It validates as a server worker does (its own fast reader and row cache on the database at
URL) and reads one JSON request per line on stdin: ``{"authorization", "activationKey",
"hardwareId", "productName"}``; it answers one JSON line: the answer's ``status`` and
``reason``, or the refusal's ``error``, and its row cache's hit count (null without one).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from exisone_server.config import Settings
from exisone_server.db import Database
from exisone_server.errors import ApiError
from exisone_server.fastpath import fast_reader
from exisone_server.fastpath.reader import SqliteReader
from exisone_server.licenses.schemas import LicenseValidate
from exisone_server.licenses.validate import validate_with_token


async def serve(data_dir: str, url: str) -> None:
    database = Database.from_settings(Settings(data_dir=Path(data_dir), database_url=url))
    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            request = json.loads(line)
            body = LicenseValidate(
                activation_key=request["activationKey"],
                hardware_id=request["hardwareId"],
                product_name=request["productName"],
            )
            try:
                _, answer = await validate_with_token(
                    database, request["authorization"], lambda _: None, body
                )
                reply = {"status": answer.status, "reason": answer.reason}
            except ApiError as error:
                reply = {"error": error.code}
            reader = fast_reader(database)  # SQLite's keeps rows, PostgreSQL's none
            reply["hits"] = reader.cache.hits if isinstance(reader, SqliteReader) else None
            print(json.dumps(reply), flush=True)
    finally:
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
