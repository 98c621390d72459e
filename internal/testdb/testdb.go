// Package testdb gives tests a database of the services the suite needs.
// On a machine without them the tests skip and say so; in CI (CI=true)
// a missing service fails the run.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	neturl "net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgres is the database used when BASALT_TEST_POSTGRES is unset.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the URL of the test PostgreSQL server, skipping the
// test (failing in CI) when it does not answer.
func PostgresURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("BASALT_TEST_POSTGRES")
	if url == "" {
		url = DefaultPostgres
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	if err != nil {
		missing(t, "PostgreSQL", url, "BASALT_TEST_POSTGRES", "the PostgreSQL suite", err)
	}
	return url
}

// missing skips the test for want of a service, saying so, or fails it
// in CI, where every service must run.
func missing(t testing.TB, service, url, env, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s at %s is required in CI: %v", service, url, err)
	}
	t.Skipf("SKIP: no %s at %s (%v); set %s to run %s", service, url, err, env, what)
}

// Schema returns a new schema name for one test and drops the schema
// when the test ends.
func Schema(t testing.TB, url string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if err := exec(url, `DROP SCHEMA IF EXISTS "`+name+`" CASCADE`); err != nil {
			t.Logf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// exec runs statements on a connection of its own, in order, stopping at
// the first error.
func exec(url string, stmts ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, stmt := range stmts {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

// CreateSchema creates a schema (for servers that take a search path).
func CreateSchema(t testing.TB, url, schema string) {
	t.Helper()
	if err := exec(url, `CREATE SCHEMA IF NOT EXISTS "`+schema+`"`); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
}

// WithSearchPath returns url with its search_path set to schema.
func WithSearchPath(url, schema string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

// Role makes an ordinary login role (no superuser, no BYPASSRLS) that
// owns a new schema, as production should connect, and returns the URL
// that connects as it with that schema on the search path. Row-level
// security applies to it. The role and schema go when the test ends.
func Role(t testing.TB, url string) (roleURL, schema string) {
	t.Helper()
	schema = Schema(t, url)
	role := `"` + schema + `"`
	if err := exec(url, `CREATE ROLE `+role+` LOGIN NOSUPERUSER NOBYPASSRLS`, `CREATE SCHEMA `+role+` AUTHORIZATION `+role); err != nil {
		t.Fatalf("create role %s: %v", schema, err)
	}
	// The schema goes first: a role that owns objects cannot be dropped.
	t.Cleanup(func() {
		if err := exec(url, `DROP SCHEMA IF EXISTS `+role+` CASCADE`, `DROP OWNED BY `+role, `DROP ROLE IF EXISTS `+role); err != nil {
			t.Logf("drop role %s: %v", schema, err)
		}
	})
	return withUser(url, schema), schema
}

// withUser returns url connecting as user.
func withUser(url, user string) string {
	u, err := neturl.Parse(url)
	if err != nil {
		return url
	}
	u.User = neturl.User(user)
	return u.String()
}
