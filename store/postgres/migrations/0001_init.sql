-- Collection definitions: one row per collection, the definition as JSON.
CREATE TABLE _collections (
  name       text COLLATE "C" PRIMARY KEY,
  definition json NOT NULL,
  created    timestamptz NOT NULL,
  updated    timestamptz NOT NULL
);

-- The event log. Positions come from an identity sequence; writers can
-- commit them out of order, so readers only read settled positions (see
-- events.go). tenant_id leads the key, as in every tenant-scoped table.
CREATE TABLE _events (
  position   bigint GENERATED ALWAYS AS IDENTITY,
  tenant_id  text COLLATE "C" NOT NULL,
  collection text COLLATE "C" NOT NULL,
  record_id  text COLLATE "C" NOT NULL,
  op         text NOT NULL,
  record     json,
  time       timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, position)
);
CREATE INDEX _events_position ON _events (position);

-- API keys: the secret is stored only as its SHA-256.
CREATE TABLE _keys (
  id        text COLLATE "C" PRIMARY KEY,
  tenant_id text COLLATE "C" NOT NULL,
  name      text NOT NULL,
  role      text NOT NULL,
  hash      bytea NOT NULL,
  created   timestamptz NOT NULL
);
CREATE INDEX _keys_tenant ON _keys (tenant_id, id);
