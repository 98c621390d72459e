-- Cursors: named positions in the event log kept by consumers that follow
-- it outside a request, such as the NATS export. A consumer moves its
-- cursor only after its destination has the events up to it. The lease
-- lets one node of many advance a cursor at a time: holder keeps it until
-- lease_until unless it renews it. Not tenant data: no row-level policy.
CREATE TABLE _cursors (
  name        text COLLATE "C" PRIMARY KEY,
  position    bigint NOT NULL,
  holder      text NOT NULL,
  lease_until timestamptz NOT NULL
);
