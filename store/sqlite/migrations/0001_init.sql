-- Collection definitions: one row per collection, the definition as JSON.
CREATE TABLE _collections (
  name       TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  created    TEXT NOT NULL,
  updated    TEXT NOT NULL
) STRICT;

-- The event log. AUTOINCREMENT: a position is never reused, even after the
-- log is pruned. The single writer commits positions in order.
CREATE TABLE _events (
  position   INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id  TEXT NOT NULL,
  collection TEXT NOT NULL,
  record_id  TEXT NOT NULL,
  op         TEXT NOT NULL,
  record     TEXT,
  time       TEXT NOT NULL
) STRICT;
CREATE INDEX _events_tenant ON _events (tenant_id, position);

-- API keys: the secret is stored only as its SHA-256.
CREATE TABLE _keys (
  id        TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  name      TEXT NOT NULL,
  role      TEXT NOT NULL,
  hash      BLOB NOT NULL,
  created   TEXT NOT NULL
) STRICT;
CREATE INDEX _keys_tenant ON _keys (tenant_id, id);
