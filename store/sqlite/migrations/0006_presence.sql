-- Presence: who is in which realtime channel. Each row is one connection
-- (key) of the node that holds it; the node refreshes expires while the
-- connection lasts and deletes the row when it ends, so rows left by a
-- node that died expire.
CREATE TABLE _presence (
  tenant_id    TEXT NOT NULL,
  channel      TEXT NOT NULL,
  key          TEXT NOT NULL,
  kind         TEXT NOT NULL,
  principal_id TEXT NOT NULL,
  meta         TEXT NOT NULL,
  node         TEXT NOT NULL,
  since        TEXT NOT NULL,
  expires      TEXT NOT NULL,
  PRIMARY KEY (tenant_id, channel, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX _presence_node ON _presence (node);
CREATE INDEX _presence_expires ON _presence (expires);
