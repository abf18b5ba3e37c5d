"""Analytics: activations, validations, trials and conversions over time, per product, client
version and (with a country database) country.

* :mod:`.settings` — ``EXISONE_ANALYTICS``, ``EXISONE_GEOIP_DATABASE``;
* :mod:`.geo` — the country of a client IP, from a MaxMind-format database file (maxminddb);
* :mod:`.counting` — validations counted in memory per process, written in batches (validate
  writes nothing: its counting costs a dict increment);
* :mod:`.report` — the figures of a period, read from the tables (activations, trials) and the
  validation counts; :mod:`.export` — as CSV.

The dashboard's analytics page (dashboard/analytics_pages.py) shows them.
"""
