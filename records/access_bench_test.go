package records

import (
	"context"
	"testing"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/cputime"
	"basalt.dev/basalt/store/sqlite"
	"basalt.dev/basalt/store/storetest"
)

// benchRule is a typical rule: owners see their records, anyone the
// public ones.
const benchRule = `owner = @auth.id || (public = true && level <= 2)`

func benchDocs() *basalt.Collection {
	rule := benchRule
	c := &basalt.Collection{Name: "docs", Fields: []basalt.Field{
		{Name: "title", Type: basalt.TypeText}, {Name: "owner", Type: basalt.TypeText},
		{Name: "public", Type: basalt.TypeBool}, {Name: "level", Type: basalt.TypeNumber},
	}, Rules: basalt.Rules{List: &rule, View: &rule}}
	c.Normalize()
	return c
}

var benchUser = &basalt.Principal{Kind: "user", ID: "u1", Role: "member", TenantID: basalt.DefaultTenant}

// BenchmarkRuleCompile measures a rule seen for the first time: parse,
// bind @auth and compile to SQL.
func BenchmarkRuleCompile(b *testing.B) {
	c := benchDocs()
	a := &access{p: benchUser, tenant: basalt.DefaultTenant, now: ruleNow}
	b.ReportAllocs()
	stop := cputime.Report(b)
	for b.Loop() {
		e, err := filter.Parse(benchRule)
		if err == nil {
			e, err = filter.Bind(e, a.vars(c, nil))
		}
		args := filter.Args{Dialect: filter.SQLite}
		if err == nil {
			_, err = filter.Compile(e, c, &args)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

// BenchmarkRuleRequest measures what a request pays for a rule that was
// seen before: bind the caller's @auth values, then compile the result to
// SQL as the store does for a list (sql), or evaluate it on one record as
// the store does for a cached read and the service for a write (eval).
func BenchmarkRuleRequest(b *testing.B) {
	c := benchDocs()
	a := &access{p: benchUser, tenant: basalt.DefaultTenant, now: ruleNow}
	r := storetest.NewRecord("d1", map[string]any{"title": "x", "owner": "u2", "public": true, "level": 1.0})
	b.Run("sql", func(b *testing.B) {
		b.ReportAllocs()
		stop := cputime.Report(b)
		for b.Loop() {
			e, err := a.rule(c, opList, nil)
			args := filter.Args{Dialect: filter.SQLite}
			if err == nil {
				_, err = filter.Compile(e, c, &args)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		stop()
	})
	b.Run("eval", func(b *testing.B) {
		b.ReportAllocs()
		stop := cputime.Report(b)
		for b.Loop() {
			e, err := a.rule(c, opView, nil)
			if err == nil {
				_, err = filter.Eval(e, c, r)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		stop()
	})
}

// BenchmarkGetRecordAccess reads one record through the service as an API
// key, which no rule restricts (the baseline), and as a user whom the
// view rule restricts; with the store's record cache, as the server runs
// by default (the rule is evaluated on the cached record), and without
// (the rule is compiled into the SQL).
func BenchmarkGetRecordAccess(b *testing.B) {
	key := &basalt.Principal{Kind: "key", ID: "k", TenantID: basalt.DefaultTenant, Role: basalt.RoleAdmin, Scopes: basalt.RoleScopes(basalt.RoleAdmin)}
	for _, cache := range []struct {
		name    string
		records int
	}{{"cache", 1000}, {"nocache", 0}} {
		ctx := context.Background()
		db, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{RecordCache: cache.records})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		svc := New(db, nil, nil)
		if err := svc.Load(ctx); err != nil {
			b.Fatal(err)
		}
		c, err := svc.CreateCollection(basalt.NewContext(ctx, key), benchDocs())
		if err != nil {
			b.Fatal(err)
		}
		storetest.MustInsert(b, db, basalt.DefaultTenant, c,
			storetest.NewRecord("d1", map[string]any{"title": "Hello", "owner": "u1", "public": false, "level": 3.0}))
		for _, p := range []struct {
			name string
			p    *basalt.Principal
		}{{"key", key}, {"user", benchUser}} {
			ctx := basalt.NewContext(ctx, p.p)
			b.Run(cache.name+"/"+p.name, func(b *testing.B) {
				b.ReportAllocs()
				stop := cputime.Report(b)
				for b.Loop() {
					if _, err := svc.Get(ctx, "docs", "d1", ""); err != nil {
						b.Fatal(err)
					}
				}
				stop()
			})
		}
	}
}
