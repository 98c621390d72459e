-- Users, sessions and tenants. Users and sessions are global (a user
-- belongs to several tenants); tenant-scoped tables lead with tenant_id.

CREATE TABLE _users (
  id               TEXT PRIMARY KEY,
  email            TEXT NOT NULL UNIQUE,   -- lower case
  name             TEXT NOT NULL,
  password         TEXT NOT NULL,          -- argon2id, PHC string
  verified         INTEGER NOT NULL,
  totp_secret      TEXT,                   -- encrypted with the server's secret key
  totp_enabled     INTEGER NOT NULL,
  recovery_codes   TEXT NOT NULL,          -- JSON array of SHA-256 hex digests
  created          TEXT NOT NULL,
  updated          TEXT NOT NULL
) STRICT;

CREATE TABLE _tenants (
  id      TEXT PRIMARY KEY,
  name    TEXT NOT NULL,
  created TEXT NOT NULL,
  updated TEXT NOT NULL
) STRICT;
INSERT INTO _tenants (id, name, created, updated) VALUES ('default', 'Default', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

CREATE TABLE _memberships (
  tenant_id TEXT NOT NULL,
  user_id   TEXT NOT NULL,
  role      TEXT NOT NULL,
  created   TEXT NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX _memberships_user ON _memberships (user_id, tenant_id);

CREATE TABLE _roles (
  tenant_id TEXT NOT NULL,
  name      TEXT NOT NULL,
  created   TEXT NOT NULL,
  PRIMARY KEY (tenant_id, name)
) STRICT, WITHOUT ROWID;

-- A session is one sign-in: a family of refresh tokens, each used once.
CREATE TABLE _sessions (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL,
  tenant_id  TEXT NOT NULL,  -- the tenant it acts in; "" for none
  created    TEXT NOT NULL,
  last_used  TEXT NOT NULL,
  expires    TEXT NOT NULL,
  revoked    TEXT,           -- when revoked, with revoked_why
  revoked_why TEXT,
  user_agent TEXT NOT NULL,
  ip         TEXT NOT NULL
) STRICT;
CREATE INDEX _sessions_user ON _sessions (user_id, created);

CREATE TABLE _refresh_tokens (
  hash       TEXT PRIMARY KEY,  -- SHA-256 hex of the token
  session_id TEXT NOT NULL,
  created    TEXT NOT NULL,
  spent      TEXT               -- when it was exchanged
) STRICT;
CREATE INDEX _refresh_tokens_session ON _refresh_tokens (session_id);

-- Keys that sign access tokens; private halves encrypted.
CREATE TABLE _signing_keys (
  kid      TEXT PRIMARY KEY,
  alg      TEXT NOT NULL,
  private  TEXT NOT NULL,
  public   TEXT NOT NULL,
  created  TEXT NOT NULL
) STRICT;

-- One-use tokens sent by mail: verification, password reset, unlock.
CREATE TABLE _email_tokens (
  hash    TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  kind    TEXT NOT NULL,
  expires TEXT NOT NULL,
  used    TEXT
) STRICT;

-- Failed sign-ins by account and by client address.
CREATE TABLE _login_failures (
  key      TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  last     TEXT NOT NULL,
  locked   INTEGER NOT NULL
) STRICT;

CREATE TABLE _invites (
  tenant_id TEXT NOT NULL,
  id        TEXT NOT NULL,
  email     TEXT NOT NULL,
  role      TEXT NOT NULL,
  hash      TEXT NOT NULL UNIQUE,
  inviter   TEXT NOT NULL,
  created   TEXT NOT NULL,
  expires   TEXT NOT NULL,
  accepted  TEXT,
  PRIMARY KEY (tenant_id, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE _audit (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id TEXT NOT NULL,
  time      TEXT NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  target    TEXT NOT NULL,
  ip        TEXT NOT NULL,
  details   TEXT NOT NULL
) STRICT;
CREATE INDEX _audit_tenant ON _audit (tenant_id, id);

-- API keys become scoped: a list of scopes, an expiry, revocation.
ALTER TABLE _keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE _keys ADD COLUMN expires TEXT;
ALTER TABLE _keys ADD COLUMN revoked TEXT;
