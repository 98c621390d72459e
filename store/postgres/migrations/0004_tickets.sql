-- Realtime tickets: one-use, short-lived credentials for clients that
-- cannot send headers (a browser's EventSource and WebSocket). Only the
-- SHA-256 of a ticket is stored; taking one deletes it.
CREATE TABLE _tickets (
  hash      text COLLATE "C" PRIMARY KEY,
  principal json NOT NULL,
  expires   timestamptz NOT NULL
);
CREATE INDEX _tickets_expires ON _tickets (expires);
