-- Row-level security: the second wall behind the tenant predicate that
-- every statement of the store carries. Each transaction and read says
-- whose rows it acts on in the setting basalt.tenant (see txAs and read
-- in db.go); the policy shows and accepts only that tenant's rows. "*"
-- is Basalt's own cross-tenant work: the event log's readers, schema
-- changes and deleting a tenant. A connection that sets nothing sees
-- nothing. FORCE applies the policy to the tables' owner too, the role
-- Basalt connects as; superusers and BYPASSRLS roles still pass it, so
-- production should connect as an ordinary role (docs/operations.md).
-- The setting is read in a subquery: evaluated once per statement, not
-- once per row, so a scan costs about what it would without the policy.

ALTER TABLE _events ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON _events
  USING (tenant_id = (SELECT current_setting('basalt.tenant', true)) COLLATE "C" OR (SELECT current_setting('basalt.tenant', true)) = '*');

DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT 'c_' || name FROM _collections LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT current_setting(''basalt.tenant'', true)) COLLATE "C" OR (SELECT current_setting(''basalt.tenant'', true)) = ''*'')', t);
  END LOOP;
END $$;
