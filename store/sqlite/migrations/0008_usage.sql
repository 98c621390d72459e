-- Usage and quotas of tenants.
--
-- _usage counts each tenant's records and stored bytes per collection,
-- maintained in the transaction of every record write; readers sum a
-- tenant's rows. shard spreads a tenant's counts over several rows on
-- PostgreSQL; the single SQLite writer uses shard 0. The counts of the
-- records that exist when this migration runs are filled in by the store
-- right after it, in the same transaction (store/sqlite/migrate.go).
CREATE TABLE _usage (
  tenant_id  TEXT NOT NULL,
  collection TEXT NOT NULL,
  shard      INTEGER NOT NULL,
  records    INTEGER NOT NULL,
  bytes      INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, collection, shard)
) STRICT, WITHOUT ROWID;
CREATE INDEX _usage_collection ON _usage (collection);

-- _requests counts each tenant's requests per UTC day (YYYY-MM-DD); the
-- nodes add what they counted every few seconds.
CREATE TABLE _requests (
  tenant_id TEXT NOT NULL,
  day       TEXT NOT NULL,
  count     INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, day)
) STRICT, WITHOUT ROWID;
CREATE INDEX _requests_day ON _requests (day);

-- _quotas holds the operator's overrides of a tenant's quotas; null keeps
-- the configured default, 0 is unlimited.
CREATE TABLE _quotas (
  tenant_id      TEXT PRIMARY KEY,
  requests_day   INTEGER,
  requests_month INTEGER,
  records        INTEGER,
  bytes          INTEGER,
  updated        TEXT NOT NULL
) STRICT, WITHOUT ROWID;
