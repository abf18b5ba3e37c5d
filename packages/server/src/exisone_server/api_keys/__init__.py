"""API-key licensing: the keys of an API product carry a lifetime quota of calls and a rate.

* :mod:`.consume` — :func:`~.consume.consume`, the one function that spends calls (one
  conditional UPDATE), and what a key was granted;
* :mod:`.batcher` — consumes of a process committed together, each answered after its commit;
* :mod:`.service` — reading a key's usage, top-ups, purchases;
* :mod:`.endpoints` — ``POST /api/license/consume``, ``GET /api/license/{key}/quota``,
  ``POST /api/license/{key}/topup`` (docs/api-keys.md).
"""
