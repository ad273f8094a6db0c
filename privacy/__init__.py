"""Privacy by design: the personal-data map, export, erase, retention, and logs without
personal data.

- :mod:`privacy.base`: the :class:`~privacy.base.Eraser` seam every store holding personal
  data implements; :mod:`privacy.erasers`: the map (one eraser per store);
- :mod:`privacy.subject`: whom a request names (client id, phone, e-mail, conversation id);
- :mod:`privacy.service`: export / erase / retention as one loop over the erasers;
- :mod:`privacy.config`, :mod:`privacy.retention`, :mod:`privacy.scheduler`: TTLs per tier
  and kind, enforced once across processes (the lease is :mod:`bot.leases`);
- :mod:`privacy.logs`: every log record masked; :mod:`privacy.cli`: ``concierge privacy``.

Nothing here is built at import time; docs/security.md describes the map and the TTLs.
"""
