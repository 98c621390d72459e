-- Cursors: named positions in the event log kept by consumers that follow
-- it outside a request, such as the NATS export. A consumer moves its
-- cursor only after its destination has the events up to it. The lease
-- lets one node of many advance a cursor at a time: holder keeps it until
-- lease_until unless it renews it.
CREATE TABLE _cursors (
  name        TEXT PRIMARY KEY,
  position    INTEGER NOT NULL,
  holder      TEXT NOT NULL,
  lease_until TEXT NOT NULL
) STRICT, WITHOUT ROWID;
