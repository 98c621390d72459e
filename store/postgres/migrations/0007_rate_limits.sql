-- Rate-limit policies set through the admin API (/api/admin/rate-limits),
-- read by every node; a row replaces the --rate-limit policy of its name.
-- Quota requests per window_seconds, burst at once, counted by key_by on
-- the routes of route_class. Deployment-wide, not tenant data: no
-- row-level policy.
CREATE TABLE _rate_limits (
  name           text COLLATE "C" PRIMARY KEY,
  key_by         text NOT NULL,
  route_class    text NOT NULL,
  quota          bigint NOT NULL,
  window_seconds bigint NOT NULL,
  burst          bigint NOT NULL,
  updated        timestamptz NOT NULL
);
