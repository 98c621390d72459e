package api_test

import (
	"strings"
	"testing"

	"basalt.dev/basalt/api/apitest"
)

// TestOpenAPIKeepsHiddenFields: the public document does not name hidden
// fields, which the API otherwise answers about as if they did not
// exist; a key that defines collections sees them.
func TestOpenAPIKeepsHiddenFields(t *testing.T) {
	s := apitest.Start(t, apitest.SQLite)
	s.Admin(t, "POST", "/api/collections", map[string]any{"name": "accounts", "fields": []map[string]any{
		{"name": "nickname", "type": "text"}, {"name": "stripe_secret_ref", "type": "text", "hidden": true}},
		"indexes": []map[string]any{{"fields": []string{"stripe_secret_ref"}}}}, 201)
	for _, c := range []struct {
		who, key string
		want     bool
	}{{"anonymous", "", false}, {"service key", s.ServiceKey, false}, {"admin key", s.AdminKey, true}} {
		r := s.Do(t, apitest.Request{Method: "GET", Path: "/api/openapi.json", Key: c.key})
		if r.StatusCode != 200 {
			t.Fatalf("%s: GET /api/openapi.json = %d", c.who, r.StatusCode)
		}
		body := string(r.Body)
		if !strings.Contains(body, "nickname") {
			t.Fatalf("%s: the document lacks the collection's visible field", c.who)
		}
		if got := strings.Contains(body, "stripe_secret_ref"); got != c.want {
			t.Errorf("%s: the document names the hidden field: %v, want %v", c.who, got, c.want)
		}
	}
}
