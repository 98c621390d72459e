-- Presence: who is in which realtime channel, shared by every node. Each
-- row is one connection (key) of the node that holds it; the node
-- refreshes expires while the connection lasts and deletes the row when
-- it ends, so a node that dies takes its rows with it once they expire
-- (any node sweeps them). Read and written with the tenant in every
-- statement, like the identity tables: no row-level policy.
CREATE TABLE _presence (
  tenant_id    text COLLATE "C" NOT NULL,
  channel      text COLLATE "C" NOT NULL,
  key          text COLLATE "C" NOT NULL,
  kind         text NOT NULL,
  principal_id text NOT NULL,
  meta         json NOT NULL,
  node         text COLLATE "C" NOT NULL,
  since        timestamptz NOT NULL,
  expires      timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, channel, key)
);
CREATE INDEX _presence_node ON _presence (node);
CREATE INDEX _presence_expires ON _presence (expires);
