-- Users, sessions and tenants. Users and sessions are global (a user
-- belongs to several tenants); tenant-scoped tables lead with tenant_id.

CREATE TABLE _users (
  id               text COLLATE "C" PRIMARY KEY,
  email            text COLLATE "C" NOT NULL UNIQUE,
  name             text NOT NULL,
  password         text NOT NULL,
  verified         boolean NOT NULL,
  totp_secret      text,
  totp_enabled     boolean NOT NULL,
  recovery_codes   text NOT NULL,
  created          timestamptz NOT NULL,
  updated          timestamptz NOT NULL
);

CREATE TABLE _tenants (
  id      text COLLATE "C" PRIMARY KEY,
  name    text NOT NULL,
  created timestamptz NOT NULL,
  updated timestamptz NOT NULL
);
INSERT INTO _tenants (id, name, created, updated) VALUES ('default', 'Default', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');

CREATE TABLE _memberships (
  tenant_id text COLLATE "C" NOT NULL,
  user_id   text COLLATE "C" NOT NULL,
  role      text COLLATE "C" NOT NULL,
  created   timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX _memberships_user ON _memberships (user_id, tenant_id);

CREATE TABLE _roles (
  tenant_id text COLLATE "C" NOT NULL,
  name      text COLLATE "C" NOT NULL,
  created   timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

CREATE TABLE _sessions (
  id          text COLLATE "C" PRIMARY KEY,
  user_id     text COLLATE "C" NOT NULL,
  tenant_id   text COLLATE "C" NOT NULL,
  created     timestamptz NOT NULL,
  last_used   timestamptz NOT NULL,
  expires     timestamptz NOT NULL,
  revoked     timestamptz,
  revoked_why text,
  user_agent  text NOT NULL,
  ip          text NOT NULL
);
CREATE INDEX _sessions_user ON _sessions (user_id, created);

CREATE TABLE _refresh_tokens (
  hash       text COLLATE "C" PRIMARY KEY,
  session_id text COLLATE "C" NOT NULL,
  created    timestamptz NOT NULL,
  spent      timestamptz
);
CREATE INDEX _refresh_tokens_session ON _refresh_tokens (session_id);

CREATE TABLE _signing_keys (
  kid     text COLLATE "C" PRIMARY KEY,
  alg     text NOT NULL,
  private text NOT NULL,
  public  text NOT NULL,
  created timestamptz NOT NULL
);

CREATE TABLE _email_tokens (
  hash    text COLLATE "C" PRIMARY KEY,
  user_id text COLLATE "C" NOT NULL,
  kind    text NOT NULL,
  expires timestamptz NOT NULL,
  used    timestamptz
);

CREATE TABLE _login_failures (
  key      text COLLATE "C" PRIMARY KEY,
  failures integer NOT NULL,
  last     timestamptz NOT NULL,
  locked   boolean NOT NULL
);

CREATE TABLE _invites (
  tenant_id text COLLATE "C" NOT NULL,
  id        text COLLATE "C" NOT NULL,
  email     text COLLATE "C" NOT NULL,
  role      text COLLATE "C" NOT NULL,
  hash      text COLLATE "C" NOT NULL UNIQUE,
  inviter   text NOT NULL,
  created   timestamptz NOT NULL,
  expires   timestamptz NOT NULL,
  accepted  timestamptz,
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE _audit (
  id        bigint GENERATED ALWAYS AS IDENTITY,
  tenant_id text COLLATE "C" NOT NULL,
  time      timestamptz NOT NULL,
  actor     text NOT NULL,
  action    text NOT NULL,
  target    text NOT NULL,
  ip        text NOT NULL,
  details   json NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

ALTER TABLE _keys ADD COLUMN scopes json NOT NULL DEFAULT '[]';
ALTER TABLE _keys ADD COLUMN expires timestamptz;
ALTER TABLE _keys ADD COLUMN revoked timestamptz;
