package records

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlite"
	"basalt.dev/basalt/store/storetest"
)

// ruleNow is @now in the rule tests.
var ruleNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// ruleSeeds are rules as people write them, the rules of the docs and of
// the store's differential test, and rules that must be refused.
var ruleSeeds = []string{
	`owner = @auth.id`,
	`owner = @auth.id || public = true`,
	`owner = @auth.id || @auth.role = "admin" || @auth.role = "owner"`,
	`(team = @auth.role || owner = @auth.id) && public != false`,
	`!(owner = @auth.id) && level < 2`,
	`@auth.id != null && level >= 1`,
	`!(@auth.role = "member" && team = "red")`,
	`@auth.kind = "user" && due > @now`,
	`@request.body.owner = @auth.id`,
	`@request.body.owner = @auth.id && @request.body.level <= 3 && @request.body.public = true`,
	`@request.body.owner = owner && @request.body.team != null`,
	`@request.body.meta = null || owner = @auth.id`,
	`@request.body.due > @now`,
	`team ~ @auth.tenant || owner ~ "u"`,
	`"order" = @auth.id`,
	`order = 'x' || secret != null`,
	`due <= @now && created < @now`,
	`@auth.tenant = "default" && @auth.kind != "key"`,
	``,
	` `,
	`owner = @auth.nope`,
	`owner = @request.body.nope`,
	`owner = @request.owner`,
	`level = @auth.id`,
	`owner > @now`,
	`meta = @auth.id`,
	`@auth.id = @auth.role`,
	`@auth.id`,
	`owner = "x" && `,
	`owner = "\u0000"`,
	`owner = @auth.id; DROP TABLE docs`,
	`owner = "'); DROP TABLE docs; --"`,
	`level > 1e400`,
	strings.Repeat("(", 40) + `owner = @auth.id` + strings.Repeat(")", 40),
}

// ruleDocs is the collection of the rule tests: a field of each type, a
// hidden field and one named after an SQL keyword.
func ruleDocs() *basalt.Collection {
	return &basalt.Collection{Name: "docs", Fields: []basalt.Field{
		{Name: "owner", Type: basalt.TypeText}, {Name: "team", Type: basalt.TypeText},
		{Name: "public", Type: basalt.TypeBool}, {Name: "level", Type: basalt.TypeNumber},
		{Name: "due", Type: basalt.TypeDate}, {Name: "meta", Type: basalt.TypeJSON},
		{Name: "order", Type: basalt.TypeText}, {Name: "secret", Type: basalt.TypeText, Hidden: true},
	}}
}

// ruleRecords returns records whose values meet the callers' ids, roles
// and tenant, with nulls in every field.
func ruleRecords() []*basalt.Record {
	owners := []any{nil, "u1", "u2", "member", "", "U1"}
	teams := []any{nil, "red", "admin", basalt.DefaultTenant, "blue"}
	bools := []any{nil, true, false}
	levels := []any{nil, 0.0, 1.0, 2.5, -3.0}
	dues := []any{nil, ruleNow.Add(-time.Hour), ruleNow, ruleNow.Add(time.Microsecond), ruleNow.AddDate(1, 0, 0)}
	recs := make([]*basalt.Record, 30)
	for i := range recs {
		data := map[string]any{"owner": owners[i%6], "team": teams[(i*3)%5], "public": bools[(i*2)%3],
			"level": levels[(i*7)%5], "due": dues[(i*3)%5], "order": owners[(i+1)%6], "secret": teams[i%5]}
		if i%4 == 1 {
			data["meta"] = json.RawMessage(`{"a":1}`)
		}
		for k, v := range data {
			if v == nil {
				delete(data, k)
			}
		}
		recs[i] = storetest.NewRecord(fmt.Sprintf("d%02d", i), data)
	}
	return recs
}

// ruleCallers are the callers a rule meets: users of each role, a user
// without a role, anyone (no identity) and an API key.
func ruleCallers() []*access {
	user := func(id, role string) *basalt.Principal {
		return &basalt.Principal{Kind: "user", ID: id, Role: basalt.Role(role), TenantID: basalt.DefaultTenant}
	}
	key := &basalt.Principal{Kind: "key", ID: "k", Role: basalt.RoleAdmin, TenantID: basalt.DefaultTenant, Scopes: basalt.RoleScopes(basalt.RoleAdmin)}
	var out []*access
	for _, p := range []*basalt.Principal{user("u1", "member"), user("u2", "admin"), user("u3", ""), nil, key} {
		out = append(out, &access{p: p, key: p != nil && p.Kind == "key", tenant: basalt.DefaultTenant, now: ruleNow})
	}
	return out
}

// ruleBodies are the request bodies that @request.body reads: every field
// of a create, and an update that sets one field.
var ruleBodies = map[string]map[string]any{
	opCreate: {"owner": "u1", "team": "red", "public": true, "level": 2.0, "due": ruleNow.Add(time.Hour),
		"meta": json.RawMessage(`{}`), "order": "x"},
	opUpdate: {"level": 3.0},
}

// ruleOracle holds ruleRecords in a SQLite store and in memory.
type ruleOracle struct {
	db   *sqlite.DB
	c    *basalt.Collection
	recs []*basalt.Record
}

func newRuleOracle(tb testing.TB) *ruleOracle {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, tb.TempDir(), sqlite.Options{Synchronous: "OFF"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	o := &ruleOracle{db: db, c: storetest.MustCollection(tb, db, ruleDocs()), recs: ruleRecords()}
	for _, r := range o.recs {
		storetest.MustInsert(tb, db, basalt.DefaultTenant, o.c, r)
	}
	return o
}

// FuzzRule sets arbitrary text as every rule of a collection. Validation
// never panics and refuses with a validation error, or else the rule,
// bound for each caller and body, compiles to SQL whose only text from
// the rule is the names of fields, every value a parameter, and the SQL
// selects exactly the records that the in-memory evaluation allows.
func FuzzRule(f *testing.F) {
	for _, src := range ruleSeeds {
		f.Add(src)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		f.Add(randomRule(r, 3))
	}
	o := newRuleOracle(f)
	f.Fuzz(func(t *testing.T, src string) {
		o.check(t, src)
	})
}

// TestRules runs the checks of FuzzRule on its seeds and on generated
// rules, so that go test alone covers them.
func TestRules(t *testing.T) {
	t.Parallel()
	o := newRuleOracle(t)
	for _, src := range ruleSeeds {
		o.check(t, src)
	}
	r := rand.New(rand.NewPCG(5, 6))
	valid := 0
	for range 300 {
		if o.check(t, randomRule(r, 4)) {
			valid++
		}
	}
	if valid < 300 {
		t.Errorf("only %d of 300 generated rules were valid", valid)
	}
}

// ruleOperands are the operands of generated rules by type: fields, the
// variables of that type, and values.
var ruleOperands = map[basalt.FieldType][]string{
	basalt.TypeText: {"owner", "team", "order", "secret", "id", "@auth.id", "@auth.role", "@auth.tenant", "@auth.kind",
		"@request.body.owner", "@request.body.team", `"u1"`, `"admin"`, `"default"`, `""`, `"U"`, `"%"`},
	basalt.TypeNumber: {"level", "@request.body.level", "0", "1", "2.5", "-3"},
	basalt.TypeBool:   {"public", "@request.body.public", "true", "false"},
	basalt.TypeDate: {"due", "created", "updated", "@now", "@request.body.due", `"2026-05-01T12:00:00Z"`,
		`"2026-05-01T12:00:00.000001Z"`, `"2027-01-01"`},
	basalt.TypeJSON: {"meta", "@request.body.meta"},
}

// randomRule returns a valid rule on ruleDocs of at most depth levels.
func randomRule(r *rand.Rand, depth int) string {
	if depth == 0 || r.IntN(3) == 0 {
		return randomRuleCompare(r)
	}
	if r.IntN(5) == 0 {
		return "!(" + randomRule(r, depth-1) + ")"
	}
	op := []string{" && ", " || "}[r.IntN(2)]
	return "(" + randomRule(r, depth-1) + op + randomRule(r, depth-1) + ")"
}

// randomRuleCompare compares two operands of one type, one of them a
// field or a variable, or one with null.
func randomRuleCompare(r *rand.Rand) string {
	types := []basalt.FieldType{basalt.TypeText, basalt.TypeNumber, basalt.TypeBool, basalt.TypeDate, basalt.TypeJSON}
	typ := types[r.IntN(len(types))]
	ops := map[basalt.FieldType][]string{basalt.TypeText: {"=", "!=", "<", ">=", "~", "!~"}, basalt.TypeBool: {"=", "!="}}[typ]
	if ops == nil {
		ops = []string{"=", "!=", "<", "<=", ">", ">="}
	}
	all := ruleOperands[typ]
	named := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return !isName(s) })
	l, op, rhs := named[r.IntN(len(named))], ops[r.IntN(len(ops))], all[r.IntN(len(all))]
	if typ == basalt.TypeJSON || r.IntN(6) == 0 {
		op, rhs = []string{"=", "!="}[r.IntN(2)], "null"
	}
	if isName(rhs) && (op == "~" || op == "!~") && !strings.HasPrefix(rhs, "@") {
		op = "="
	}
	if r.IntN(3) == 0 && op != "~" && op != "!~" {
		flip := map[string]string{"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
		return rhs + " " + flip[op] + " " + l
	}
	return l + " " + op + " " + rhs
}

// isName reports whether operand s is a field or a variable.
func isName(s string) bool {
	return s[0] == '@' || 'a' <= s[0] && s[0] <= 'z' && s != "true" && s != "false"
}

// check runs the checks of FuzzRule on src and reports whether it was a
// valid rule.
func (o *ruleOracle) check(t *testing.T, src string) bool {
	t.Helper()
	c := *o.c
	c.Rules = basalt.Rules{List: &src, View: &src, Create: &src, Update: &src, Delete: &src}
	if err := ValidateRules(&c); err != nil {
		if basalt.ErrorCode(err) != basalt.CodeValidation {
			t.Fatalf("ValidateRules(%q) = %v, want a validation error", src, err)
		}
		return false
	}
	checked := map[string]bool{}
	for _, a := range ruleCallers() {
		for _, op := range []string{opList, opView, opCreate, opUpdate, opDelete} {
			e, err := a.rule(&c, op, ruleBodies[op])
			if err != nil {
				t.Fatalf("rule %q passed validation, but binding it for %s as %+v failed: %v", src, op, a.p, err)
			}
			if e == nil || checked[e.String()] {
				continue
			}
			checked[e.String()] = true
			o.compare(t, src, e)
		}
	}
	return true
}

// compare checks the SQL of a bound rule in both dialects and compares the
// records the store selects with those that Eval allows.
func (o *ruleOracle) compare(t *testing.T, src string, e filter.Expr) {
	t.Helper()
	for _, d := range []filter.Dialect{filter.SQLite, filter.Postgres} {
		args := filter.Args{Dialect: d}
		where, err := filter.Compile(e, o.c, &args)
		if err != nil {
			t.Fatalf("rule %q passed validation, but %s does not compile: %v", src, e, err)
		}
		checkParameterized(t, o.c, d, where, len(args.Values))
	}
	var want []string
	for _, r := range o.recs {
		ok, err := filter.Eval(e, o.c, r)
		if err != nil {
			t.Fatalf("Eval(%s, %s) = %v", e, r.ID, err)
		}
		if ok {
			want = append(want, r.ID)
		}
	}
	page, err := o.db.RecordList(context.Background(), &store.RecordListParams{TenantID: basalt.DefaultTenant, Collection: o.c, Filter: e, Limit: 100})
	if err != nil {
		t.Fatalf("rule %q: RecordList(%s) = %v", src, e, err)
	}
	var got []string
	for _, r := range page {
		got = append(got, r.ID)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("rule %q bound as %s:\n SQL  %v\n Eval %v", src, e, got, want)
	}
}

// The SQL that Compile may write: quoted names, placeholders, keywords and
// operators, and the fixed phrases of constants and LIKE. Nothing else, so
// no value of the rule is written into the SQL text.
var (
	sqlPhrases = strings.NewReplacer("(1 = 1)", " ", "(1 = 0)", " ", "CAST(NULL AS BOOLEAN)", " ", ` ESCAPE '\'`, " ")
	sqlTokens  = regexp.MustCompile(`^(?:\s|\(|\)|AND|OR|NOT|IS|NULL|I?LIKE|<>|<=|>=|=|<|>|\?|\$[1-9][0-9]*|"[a-z_][a-z0-9_]*")*$`)
	sqlNames   = regexp.MustCompile(`"([a-z_][a-z0-9_]*)"`)
	sqlParams  = regexp.MustCompile(`\?|\$[0-9]+`)
)

// checkParameterized checks that where is made only of sqlTokens, that
// its names are fields of c and that it has one placeholder per argument,
// numbered in order in PostgreSQL.
func checkParameterized(t *testing.T, c *basalt.Collection, d filter.Dialect, where string, nargs int) {
	t.Helper()
	if !sqlTokens.MatchString(sqlPhrases.Replace(where)) {
		t.Fatalf("%s SQL %q holds text other than names, placeholders, keywords and operators", d, where)
	}
	for _, m := range sqlNames.FindAllStringSubmatch(where, -1) {
		if c.SchemaField(m[1]) == nil {
			t.Fatalf("%s SQL %q names %q, which is not a field of %s", d, where, m[1], c.Name)
		}
	}
	params := sqlParams.FindAllString(where, -1)
	if len(params) != nargs {
		t.Fatalf("%s SQL %q has %d placeholders for %d arguments", d, where, len(params), nargs)
	}
	for i, p := range params {
		if d == filter.Postgres && p != "$"+strconv.Itoa(i+1) {
			t.Fatalf("%s SQL %q has placeholder %s at %d", d, where, p, i+1)
		}
	}
}
