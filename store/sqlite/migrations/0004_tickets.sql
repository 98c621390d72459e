-- Realtime tickets: one-use, short-lived credentials for clients that
-- cannot send headers (a browser's EventSource and WebSocket). Only the
-- SHA-256 of a ticket is stored; taking one deletes it.
CREATE TABLE _tickets (
  hash      TEXT PRIMARY KEY,
  principal TEXT NOT NULL,
  expires   TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX _tickets_expires ON _tickets (expires);
