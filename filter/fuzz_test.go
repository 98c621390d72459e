package filter

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/testdb"
	"github.com/google/go-cmp/cmp"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// FuzzParse checks that Parse never panics, that its errors are
// validation errors pointing into the source, and that the canonical form
// of what it accepts parses to the same tree and the same text.
func FuzzParse(f *testing.F) {
	for _, tt := range goodFilters {
		f.Add(tt.src)
	}
	for _, tt := range badFilters {
		f.Add(tt.src)
	}
	for _, tt := range badChecks {
		f.Add(tt.src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			checkOffset(t, src, err)
			return
		}
		s := e.String()
		e2, err := parse(s) // the canonical form may exceed the length limit
		if err != nil {
			t.Fatalf("Parse(%q) = %s, which does not parse: %v", src, s, err)
		}
		if s2 := e2.String(); s2 != s {
			t.Fatalf("Parse(%q) = %s, which parses to %s", src, s, s2)
		}
		if diff := cmp.Diff(e, e2, ignoreOffsets); diff != "" {
			t.Fatalf("Parse(%q) = %s, which parses to another tree (-first +second):\n%s", src, s, diff)
		}
		if err := Check(e, posts); err != nil {
			checkOffset(t, src, err)
		}
	})
}

// checkOffset checks that err is a filter validation error at an offset
// within src.
func checkOffset(t *testing.T, src string, err error) {
	t.Helper()
	var e *basalt.Error
	if !errors.As(err, &e) || e.Code != basalt.CodeValidation || len(e.Fields) != 1 || e.Fields[0].Field != "filter" {
		t.Fatalf("Parse(%q) error = %#v, want a validation error of the filter", src, err)
	}
	var off int
	if _, serr := fmt.Sscanf(e.Fields[0].Message, "at offset %d:", &off); serr != nil || off < 0 || off > len(src) {
		t.Fatalf("Parse(%q) error %q has no offset within the source", src, e.Fields[0].Message)
	}
}

// things is the collection of the differential tests: one field of each
// type that filters use, besides the system fields.
var things = &basalt.Collection{Name: "things", Fields: []basalt.Field{
	{Name: "t", Type: basalt.TypeText},
	{Name: "n", Type: basalt.TypeNumber},
	{Name: "b", Type: basalt.TypeBool},
	{Name: "d", Type: basalt.TypeDate},
	{Name: "j", Type: basalt.TypeJSON},
}}

// Values of the records, chosen for the edges of each type: null, empty,
// case, non-ASCII text, LIKE's special characters, signed zero, extremes
// and dates at the ends of the range and within a microsecond.
var (
	thingTexts = []any{nil, "", "a", "A", "abc", "ABC", "Go", "golang", "GOLANG", "é", "É", "école", "ÉCOLE",
		"50%", "a_b", `a\b`, "%", "_", `\`, "x y", "日本語", "z", "Z", "0", "10", "9", "😀 emoji", "tab\tnl\n", `'q"`, "r03"}
	thingNumbers = []any{nil, 0.0, math.Copysign(0, -1), 1.0, -1.0, 0.5, 5.0, 10.0, 500.0, -500.5, 1e300, -1e300,
		1e-7, 123456789.125, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64}
	thingBools = []any{nil, true, false}
	thingDates = []any{nil, date("2024-05-01T00:00:00Z"), date("2024-05-01T12:00:00.123456Z"),
		date("2024-05-01T12:00:00.123456789Z"), date("2024-05-01T14:00:00.123456+02:00"), date("0001-01-01T00:00:00Z"),
		date("9999-12-31T23:59:59.999999Z"), date("1999-12-31T23:59:59Z"), date("2024-04-30T23:59:59.999999Z")}
	thingJSON = []any{nil, json.RawMessage(`{}`), json.RawMessage(`[1,2]`), json.RawMessage(`"x"`), json.RawMessage(`0`)}
)

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// thingRecords returns 30 records that combine the values with different
// strides, so that most combinations of nulls occur.
func thingRecords() []*basalt.Record {
	base := date("2024-05-01T10:00:00.5Z")
	recs := make([]*basalt.Record, 30)
	for i := range recs {
		created := base.Add(time.Duration(i*i) * 37 * time.Minute).Add(time.Duration(i) * 1001 * time.Nanosecond)
		recs[i] = &basalt.Record{
			ID:      fmt.Sprintf("r%02d", i),
			Created: created,
			Updated: created.Add(time.Duration(i%4) * time.Hour),
			Data: map[string]any{
				"t": thingTexts[i%len(thingTexts)],
				"n": thingNumbers[(i*7)%len(thingNumbers)],
				"b": thingBools[(i*5)%len(thingBools)],
				"d": thingDates[(i*2)%len(thingDates)],
				"j": thingJSON[i%len(thingJSON)],
			},
		}
		if i%6 == 5 {
			delete(recs[i].Data, "n") // a missing key is null too
		}
	}
	return recs
}

// oracle holds the records both in a database and in memory.
type oracle struct {
	db      *sql.DB
	dialect Dialect
	records []*basalt.Record
}

// The table of things in each dialect, with the column types that
// internal/sqlgen gives collections.
var thingsTable = map[Dialect]string{
	SQLite: `CREATE TABLE things (id TEXT, created TEXT, updated TEXT,
		"t" TEXT, "n" REAL, "b" INTEGER, "d" TEXT, "j" TEXT) STRICT`,
	Postgres: `CREATE TEMP TABLE things (id text COLLATE "C", created timestamptz, updated timestamptz,
		"t" text COLLATE "C", "n" double precision, "b" boolean, "d" timestamptz, "j" jsonb)`,
}

// newOracle returns the records of thingRecords in a new table of the
// dialect's database: SQLite in memory, or the test PostgreSQL server.
func newOracle(tb testing.TB, d Dialect) *oracle {
	tb.Helper()
	driver, dsn := "sqlite", ":memory:"
	if d == Postgres {
		driver, dsn = "pgx", testdb.PostgresURL(tb)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	// One connection: an in-memory database and a temporary table belong
	// to the connection.
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	if _, err = db.Exec(thingsTable[d]); err != nil {
		tb.Fatal(err)
	}
	o := &oracle{db: db, dialect: d, records: thingRecords()}
	for _, r := range o.records {
		if err := o.insert(r); err != nil {
			tb.Fatalf("insert %s: %v", r.ID, err)
		}
	}
	return o
}

// insert stores r as the store does, through Dialect.Arg.
func (o *oracle) insert(r *basalt.Record) error {
	a := Args{Dialect: o.dialect}
	marks := []string{
		a.Add(o.dialect.Arg(basalt.TypeText, r.ID)),
		a.Add(o.dialect.Arg(basalt.TypeDate, r.Created)),
		a.Add(o.dialect.Arg(basalt.TypeDate, r.Updated)),
	}
	for _, f := range things.Fields {
		marks = append(marks, a.Add(o.dialect.Arg(f.Type, r.Data[f.Name])))
	}
	_, err := o.db.Exec("INSERT INTO things VALUES ("+strings.Join(marks, ", ")+")", a.Values...)
	return err
}

// check compares the rows that the SQL of src selects with those for
// which Eval is true. It reports whether src was a valid filter.
func (o *oracle) check(t *testing.T, src string) bool {
	t.Helper()
	e, err := Parse(src)
	if err != nil {
		return false
	}
	a := Args{Dialect: o.dialect}
	where, err := Compile(e, things, &a)
	if err != nil {
		if _, eerr := Eval(e, things, o.records[0]); eerr == nil || eerr.Error() != err.Error() {
			t.Fatalf("Compile(%q) error = %v, but Eval error = %v", src, err, eerr)
		}
		return false
	}
	got, err := o.selectIDs(where, a.Values)
	if err != nil {
		t.Fatalf("filter %q: SQL %s: %v", src, where, err)
	}
	var want []string
	for _, r := range o.records {
		ok, err := Eval(e, things, r)
		if err != nil {
			t.Fatalf("Eval(%q, %s): %v", src, r.ID, err)
		}
		if ok {
			want = append(want, r.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("filter %q\nSQL %s %v\nselects %v\nEval    %v", src, where, a.Values, got, want)
	}
	return true
}

func (o *oracle) selectIDs(where string, args []any) ([]string, error) {
	rows, err := o.db.Query("SELECT id FROM things WHERE "+where+" ORDER BY id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// FuzzFilterSQLvsEval checks that the SQL that Compile writes and Eval
// agree on which records match, on real SQLite.
func FuzzFilterSQLvsEval(f *testing.F) {
	for _, src := range sqlEvalSeeds() {
		f.Add(src)
	}
	o := newOracle(f, SQLite)
	f.Fuzz(func(t *testing.T, src string) {
		o.check(t, src)
	})
}

func sqlEvalSeeds() []string {
	seeds := []string{
		`t ~ "a"`, `t !~ "A"`, `t ~ "%"`, `t ~ "_"`, `t ~ "\\"`, `t ~ "É"`, `t ~ ""`, `t < "a"`, `t >= "Z"`,
		`t = id`, `id ~ "R0"`, `n > 0`, `n = -0`, `n <= -1e300`, `!(n > 5)`, `n != 5`, `n = null || b = true`,
		`b = true`, `b != false`, `b = b`, `d > "2024-05-01"`, `d = "2024-05-01T12:00:00.123456Z"`,
		`d <= created`, `created < updated`, `updated = created`, `j = null`, `j != null`, `!(j = null && t = null)`,
		`t = "r03" || "r03" = id`, `500 > n && !(t ~ "go" || b = false)`,
	}
	r := rand.New(rand.NewPCG(7, 7))
	for range 50 {
		seeds = append(seeds, randomFilter(r, 3))
	}
	return seeds
}

// TestFilterSQLvsEval runs the differential test on generated filters, so
// that go test alone covers it.
func TestFilterSQLvsEval(t *testing.T) {
	t.Parallel()
	runSQLvsEval(t, newOracle(t, SQLite))
}

// TestFilterSQLvsEvalPostgres runs the same filters on PostgreSQL, where
// ~ is ILIKE. It skips without a server, except in CI.
func TestFilterSQLvsEvalPostgres(t *testing.T) {
	t.Parallel()
	runSQLvsEval(t, newOracle(t, Postgres))
}

func runSQLvsEval(t *testing.T, o *oracle) {
	valid := 0
	for _, src := range sqlEvalSeeds() {
		if o.check(t, src) {
			valid++
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		if o.check(t, randomFilter(r, 4)) {
			valid++
		}
	}
	if valid < 500 {
		t.Errorf("only %d generated filters were valid", valid)
	}
}

// randomFilter returns a valid filter on things of at most depth levels.
func randomFilter(r *rand.Rand, depth int) string {
	if depth == 0 || r.IntN(3) == 0 {
		return randomCompare(r)
	}
	switch r.IntN(5) {
	case 0:
		return "!(" + randomFilter(r, depth-1) + ")"
	case 1, 2:
		return "(" + randomFilter(r, depth-1) + " && " + randomFilter(r, depth-1) + ")"
	}
	return "(" + randomFilter(r, depth-1) + " || " + randomFilter(r, depth-1) + ")"
}

var (
	orderOps = []string{"=", "!=", "<", "<=", ">", ">="}
	eqOps    = []string{"=", "!="}
)

// randomCompare returns a valid comparison on things: a field with a
// value, with null or with another field of its type.
func randomCompare(r *rand.Rand) string {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	field := pick([]string{"t", "id", "n", "b", "d", "created", "updated", "j"})
	var ops, others, values []string
	switch field {
	case "t", "id":
		ops, others, values = orderOps, []string{"t", "id"}, literals(thingTexts)
		if r.IntN(3) == 0 {
			return field + " " + pick([]string{"~", "!~"}) + " " + pick(append(values, `"a"`, `"%_"`, `"O"`, `"\\b"`))
		}
	case "n":
		ops, others, values = orderOps, []string{"n"}, append(literals(thingNumbers), "2", "-0.5", "1e-300")
	case "b":
		ops, others, values = eqOps, []string{"b"}, []string{"true", "false"}
	case "d", "created", "updated":
		ops, others, values = orderOps, []string{"d", "created", "updated"}, append(literals(thingDates),
			`"2024-05-01"`, `"2024-05-01T11:00:00.5Z"`, `"2024-05-01T12:00:00.1234569Z"`)
	default:
		return "j " + pick(eqOps) + " null"
	}
	var other string
	switch r.IntN(6) {
	case 0:
		return field + " " + pick(eqOps) + " null"
	case 1:
		other = pick(others)
	default:
		other = pick(values)
	}
	if r.IntN(3) == 0 {
		return other + " " + pick(ops) + " " + field
	}
	return field + " " + pick(ops) + " " + other
}

// literals returns the non-null values as filter source.
func literals(vals []any) []string {
	var out []string
	for _, v := range vals {
		switch v := v.(type) {
		case string:
			out = append(out, (&Literal{Value: v}).String())
		case float64:
			out = append(out, strconv.FormatFloat(v, 'g', -1, 64))
		case time.Time:
			out = append(out, `"`+v.Format(time.RFC3339Nano)+`"`)
		}
	}
	return out
}
