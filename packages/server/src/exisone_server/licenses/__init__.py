"""Licenses as the client SDKs see them: activate, validate, deactivate, features, seat usage.

Services for other domains (the publisher API):

* :func:`licenses.service.create_license` — a new license (key, expiry, features from the plan).
* :func:`licenses.history.record_history` — append a LicenseHistory event.
* :func:`licenses.offline.issue_offline_activation` — sign an offline code for a device and take
  its seat.
* :func:`licenses.binding.activate_device` — the binding/seat rules, inside a write session.
"""
