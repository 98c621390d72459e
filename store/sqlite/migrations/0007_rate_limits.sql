-- Rate-limit policies set through the admin API (/api/admin/rate-limits),
-- read by every node; a row replaces the --rate-limit policy of its name.
-- Quota requests per window_seconds, burst at once, counted by key_by on
-- the routes of route_class.
CREATE TABLE _rate_limits (
  name           TEXT PRIMARY KEY,
  key_by         TEXT NOT NULL,
  route_class    TEXT NOT NULL,
  quota          INTEGER NOT NULL,
  window_seconds INTEGER NOT NULL,
  burst          INTEGER NOT NULL,
  updated        TEXT NOT NULL
) STRICT, WITHOUT ROWID;
