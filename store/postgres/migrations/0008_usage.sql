-- Usage and quotas of tenants.
--
-- _usage counts each tenant's records and stored bytes per collection,
-- maintained in the transaction of every record write; readers sum a
-- tenant's rows. A write adds to one of several shard rows, picked at
-- random, so concurrent writers of one tenant rarely wait for the same
-- row lock. The counts of the records that exist when this migration
-- runs are filled in by the store right after it, in the same
-- transaction (store/postgres/migrate.go).
CREATE TABLE _usage (
  tenant_id  text COLLATE "C" NOT NULL,
  collection text COLLATE "C" NOT NULL,
  shard      integer NOT NULL,
  records    bigint NOT NULL,
  bytes      bigint NOT NULL,
  PRIMARY KEY (tenant_id, collection, shard)
);
CREATE INDEX _usage_collection ON _usage (collection);

-- _requests counts each tenant's requests per UTC day (YYYY-MM-DD); the
-- nodes add what they counted every few seconds.
CREATE TABLE _requests (
  tenant_id text COLLATE "C" NOT NULL,
  day       text COLLATE "C" NOT NULL,
  count     bigint NOT NULL,
  PRIMARY KEY (tenant_id, day)
);
CREATE INDEX _requests_day ON _requests (day);

-- _quotas holds the operator's overrides of a tenant's quotas; null keeps
-- the configured default, 0 is unlimited.
CREATE TABLE _quotas (
  tenant_id      text COLLATE "C" PRIMARY KEY,
  requests_day   bigint,
  requests_month bigint,
  records        bigint,
  bytes          bigint,
  updated        timestamptz NOT NULL
);

-- Tenant data: row-level security as in migration 0003.
ALTER TABLE _usage ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON _usage
  USING (tenant_id = (SELECT current_setting('basalt.tenant', true)) COLLATE "C" OR (SELECT current_setting('basalt.tenant', true)) = '*');
ALTER TABLE _requests ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON _requests
  USING (tenant_id = (SELECT current_setting('basalt.tenant', true)) COLLATE "C" OR (SELECT current_setting('basalt.tenant', true)) = '*');
ALTER TABLE _quotas ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON _quotas
  USING (tenant_id = (SELECT current_setting('basalt.tenant', true)) COLLATE "C" OR (SELECT current_setting('basalt.tenant', true)) = '*');
