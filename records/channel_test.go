package records

import (
	"context"
	"testing"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store/storetest"
)

// TestChannel checks who may use which channel: a record's channel by
// its view rule on the record as stored, a collection's channel only by
// a list rule that admits the caller whatever the record.
func TestChannel(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	str := func(s string) *string { return &s }
	fields := []basalt.Field{{Name: "owner", Type: basalt.TypeText}, {Name: "shared", Type: basalt.TypeBool}}
	for name, rules := range map[string]basalt.Rules{
		"open":      {List: str(""), View: str("")},
		"owned":     {List: str("owner = @auth.id"), View: str("owner = @auth.id || shared = true")},
		"admins":    {List: str(`@auth.role = "admin"`), View: str(`@auth.role = "admin"`)},
		"mixed":     {List: str(`owner = @auth.id || @auth.role = "admin"`)},
		"unowned":   {List: str("owner = null")},        // true of some records only
		"notmine":   {List: str("!(owner = @auth.id)")}, // likewise
		"signed_in": {List: str(`@auth.id != ""`)},
		"closed":    {},
	} {
		if _, err := tb.svc.CreateCollection(tb.ctx, &basalt.Collection{Name: name, Fields: fields, Rules: rules}); err != nil {
			t.Fatalf("CreateCollection(%s) = %v", name, err)
		}
	}
	owned, _ := tb.svc.collection("owned")
	storetest.MustInsert(t, tb.db, "t1", owned, storetest.NewRecord("d1", map[string]any{"owner": "ada"}))
	storetest.MustInsert(t, tb.db, "t1", owned, storetest.NewRecord("d2", map[string]any{"owner": "bob", "shared": true}))
	storetest.MustInsert(t, tb.db, "t2", owned, storetest.NewRecord("d3", map[string]any{"owner": "ada"}))

	as := func(p *basalt.Principal) context.Context { return basalt.NewContext(context.Background(), p) }
	user := func(id string, role basalt.Role) context.Context {
		return as(&basalt.Principal{Kind: "user", ID: id, TenantID: "t1", Role: role})
	}
	key := as(&basalt.Principal{Kind: "key", ID: "k", TenantID: "t1", Role: basalt.RoleAdmin, Scopes: basalt.RoleScopes(basalt.RoleAdmin)})
	ada, bob, root, anon := user("ada", "member"), user("bob", "member"), user("root", basalt.RoleAdmin), context.Background()
	homeless := as(&basalt.Principal{Kind: "user", ID: "ada"})

	for _, c := range []struct {
		who     string
		ctx     context.Context
		channel string
		want    basalt.Code // "" for admitted
	}{
		{"key", key, "closed", ""},
		{"key", key, "owned/d1", ""},
		{"key", key, "owned/d3", basalt.CodeNotFound}, // another tenant's record
		{"anonymous", anon, "open", ""},
		{"anonymous", anon, "open/whatever", basalt.CodeNotFound},
		{"anonymous", anon, "owned", basalt.CodeForbidden},
		{"anonymous", anon, "signed_in", basalt.CodeForbidden},
		{"ada", ada, "signed_in", ""},
		{"ada", ada, "owned", basalt.CodeForbidden},
		{"ada", ada, "owned/d1", ""},
		{"ada", ada, "owned/d2", ""}, // shared
		{"bob", bob, "owned/d1", basalt.CodeNotFound},
		{"ada", ada, "owned/d3", basalt.CodeNotFound},
		{"ada", ada, "owned/nope", basalt.CodeNotFound},
		{"ada", ada, "admins", basalt.CodeForbidden},
		{"root", root, "admins", ""},
		{"root", root, "mixed", ""},
		{"ada", ada, "mixed", basalt.CodeForbidden},
		{"ada", ada, "unowned", basalt.CodeForbidden},
		{"ada", ada, "notmine", basalt.CodeForbidden},
		{"ada", ada, "closed", basalt.CodeForbidden},
		{"ada", ada, "missing", basalt.CodeNotFound},
		{"ada", ada, "", basalt.CodeValidation},
		{"ada", ada, "owned/", basalt.CodeValidation},
		{"ada", ada, "owned/a/b", basalt.CodeValidation},
		{"ada", ada, "Owned", basalt.CodeValidation},
		{"ada without a tenant", homeless, "open", basalt.CodeForbidden},
	} {
		ch, err := tb.svc.Channel(c.ctx, c.channel)
		if got := code(err); got != c.want {
			t.Errorf("Channel(%s, %q) = %v, want code %q", c.who, c.channel, err, c.want)
			continue
		}
		if err == nil && (ch.Name != c.channel || ch.Tenant() != basalt.TenantFrom(c.ctx) || !ch.Current()) {
			t.Errorf("Channel(%s, %q) = %+v, tenant %s, current %v", c.who, c.channel, ch, ch.Tenant(), ch.Current())
		}
	}

	// A check later sees the record and the rules as they are then.
	ch, err := tb.svc.Channel(bob, "owned/d2")
	if err != nil {
		t.Fatal(err)
	}
	t1 := basalt.NewContext(context.Background(), &basalt.Principal{Kind: "key", ID: "k", TenantID: "t1", Role: basalt.RoleAdmin, Scopes: basalt.RoleScopes(basalt.RoleAdmin)})
	if _, err := tb.svc.Update(t1, "owned", "d2", []byte(`{"owner":"ada","shared":false}`), nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.Check(bob); code(err) != basalt.CodeNotFound {
		t.Errorf("Check() once the record is no longer bob's = %v, want not_found", err)
	}
	ch, err = tb.svc.Channel(ada, "owned/d2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.svc.UpdateCollection(tb.ctx, "owned", &CollectionPatch{Rules: &basalt.Rules{List: str("owner = @auth.id")}}); err != nil {
		t.Fatal(err)
	}
	if ch.Current() {
		t.Error("Current() = true after the rules changed")
	}
	if err := ch.Check(ada); code(err) != basalt.CodeForbidden {
		t.Errorf("Check() once the view rule is gone = %v, want forbidden", err)
	}
}

func code(err error) basalt.Code {
	if err == nil {
		return ""
	}
	return basalt.ErrorCode(err)
}
