package api_test

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"basalt.dev/basalt/api/apitest"
)

func TestRecordLifecycle(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := setup(t, d)
		const recs = "/api/collections/posts/records"
		created := s.Do(t, apitest.Request{Method: "POST", Path: recs, Key: s.ServiceKey,
			Body: map[string]any{"title": "Grüße ✓", "views": 1.5e300, "draft": true, "published": "2024-05-01T12:00:00.5+02:00", "meta": map[string]any{"tags": []string{"a"}}, "select": "s", "order": -1}})
		if created.StatusCode != 201 {
			t.Fatalf("create = %d %s", created.StatusCode, created.Body)
		}
		rec := created.JSON(t)
		id := rec["id"].(string)
		if loc := created.Header.Get("Location"); loc != recs+"/"+id {
			t.Errorf("Location = %q, want %q", loc, recs+"/"+id)
		}
		if rec["published"] != "2024-05-01T10:00:00.500000Z" || rec["views"] != 1.5e300 || rec["title"] != "Grüße ✓" || rec["created"] != rec["updated"] {
			t.Errorf("created record = %v", rec)
		}
		etag := created.Header.Get("ETag")

		got := s.Do(t, apitest.Request{Method: "GET", Path: recs + "/" + id, Key: s.ServiceKey})
		if got.StatusCode != 200 || string(got.Body) != string(created.Body) || got.Header.Get("ETag") != etag {
			t.Fatalf("get = %d %s (ETag %s), want the created record with ETag %s", got.StatusCode, got.Body, got.Header.Get("ETag"), etag)
		}
		notModified := s.Do(t, apitest.Request{Method: "GET", Path: recs + "/" + id, Key: s.ServiceKey, Header: map[string]string{"If-None-Match": etag}})
		if notModified.StatusCode != 304 || len(notModified.Body) != 0 {
			t.Errorf("get with If-None-Match = %d, want 304 with no body", notModified.StatusCode)
		}

		patched := s.Do(t, apitest.Request{Method: "PATCH", Path: recs + "/" + id, Key: s.ServiceKey, Body: map[string]any{"views": 2, "draft": nil}, Header: map[string]string{"If-Match": etag}})
		if patched.StatusCode != 200 {
			t.Fatalf("patch = %d %s", patched.StatusCode, patched.Body)
		}
		p := patched.JSON(t)
		if p["views"] != 2.0 || p["draft"] != nil || p["title"] != "Grüße ✓" || patched.Header.Get("ETag") == etag {
			t.Errorf("patched = %v (ETag %s)", p, patched.Header.Get("ETag"))
		}
		stale := s.Do(t, apitest.Request{Method: "PATCH", Path: recs + "/" + id, Key: s.ServiceKey, Body: map[string]any{"views": 3}, Header: map[string]string{"If-Match": etag}})
		if stale.StatusCode != 412 {
			t.Errorf("patch with the old ETag = %d, want 412", stale.StatusCode)
		}
		staleDelete := s.Do(t, apitest.Request{Method: "DELETE", Path: recs + "/" + id, Key: s.ServiceKey, Header: map[string]string{"If-Match": etag}})
		if staleDelete.StatusCode != 412 {
			t.Errorf("delete with the old ETag = %d, want 412", staleDelete.StatusCode)
		}
		del := s.Do(t, apitest.Request{Method: "DELETE", Path: recs + "/" + id, Key: s.ServiceKey, Header: map[string]string{"If-Match": patched.Header.Get("ETag")}})
		if del.StatusCode != 204 {
			t.Fatalf("delete = %d %s", del.StatusCode, del.Body)
		}
		if gone := s.Do(t, apitest.Request{Method: "GET", Path: recs + "/" + id, Key: s.ServiceKey}); gone.StatusCode != 404 {
			t.Errorf("get after delete = %d, want 404", gone.StatusCode)
		}

		// The log holds the three changes of this record, in order, with
		// the record after each change.
		events := s.Admin(t, "GET", "/api/events?limit=1000", nil, 200)["items"].([]any)
		var ops []string
		for _, e := range events {
			ev := e.(map[string]any)
			if ev["record_id"] == id {
				ops = append(ops, ev["op"].(string))
				if ev["op"] == "update" && ev["record"].(map[string]any)["views"] != 2.0 {
					t.Errorf("update event record = %v", ev["record"])
				}
			}
		}
		if strings.Join(ops, ",") != "create,update,delete" {
			t.Errorf("events of the record = %v, want create,update,delete", ops)
		}
	})
}

func TestListPagination(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := setup(t, d)
		for i := range 24 {
			s.Admin(t, "POST", "/api/collections/posts/records", map[string]any{"title": fmt.Sprint("t", i), "views": i % 6}, 201)
		}
		var titles []string
		path := "/api/collections/posts/records?limit=10&sort=" + q("-views,title") + "&filter=" + q("views >= 1") + "&fields=title,views"
		for page := 0; ; page++ {
			body := s.Admin(t, "GET", path, nil, 200)
			for _, it := range body["items"].([]any) {
				m := it.(map[string]any)
				if len(m) != 2 {
					t.Fatalf("fields=title,views returned %v", m)
				}
				titles = append(titles, fmt.Sprintf("%v %v", m["views"], m["title"]))
			}
			next, _ := body["next_cursor"].(string)
			if next == "" {
				break
			}
			if page > 5 {
				t.Fatal("pagination does not end")
			}
			path = "/api/collections/posts/records?limit=10&sort=" + q("-views,title") + "&filter=" + q("views >= 1") + "&fields=title,views&cursor=" + q(next)
			if page == 0 {
				wrong := s.Do(t, apitest.Request{Method: "GET", Path: "/api/collections/posts/records?sort=title&cursor=" + q(next), Key: s.AdminKey})
				if wrong.StatusCode != 400 || wrong.Code(t) != "validation" {
					t.Errorf("cursor with another sort = %d %s, want 400", wrong.StatusCode, wrong.Body)
				}
			}
		}
		// "Hello" (10 views, from setup) first; views 0 are filtered out.
		want := "10 Hello,5 t11,5 t17,5 t23,5 t5,4 t10,4 t16,4 t22,4 t4,3 t15,3 t21,3 t3,3 t9,2 t14,2 t2,2 t20,2 t8,1 t1,1 t13,1 t19,1 t7"
		if got := strings.Join(titles, ","); got != want {
			t.Errorf("pages =\n%s\nwant\n%s", got, want)
		}
	})
}

func TestCollectionPatchKeepsData(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := setup(t, d)
		s.Admin(t, "PATCH", "/api/collections/posts", map[string]any{
			"rename": map[string]string{"title": "headline"},
			"fields": []map[string]any{
				{"name": "headline", "type": "text", "required": true},
				{"name": "views", "type": "number"},
				{"name": "slug", "type": "text", "unique": true},
				{"name": "rating", "type": "number", "default": 3},
			},
			"indexes": []map[string]any{{"fields": []string{"views", "rating"}}},
		}, 200)
		rec := s.Admin(t, "GET", "/api/collections/posts/records/first", nil, 200)
		want := map[string]any{"headline": "Hello", "views": 10.0, "slug": "hello", "rating": 3.0}
		for k, v := range want {
			if rec[k] != v {
				t.Errorf("after patch %s = %v, want %v (record %v)", k, rec[k], v, rec)
			}
		}
		if _, ok := rec["draft"]; ok {
			t.Errorf("dropped field draft is still returned: %v", rec)
		}
		c := s.Admin(t, "GET", "/api/collections/posts", nil, 200)
		if len(c["fields"].([]any)) != 4 || len(c["indexes"].([]any)) != 1 {
			t.Errorf("definition after patch = %v", c)
		}
		s.Admin(t, "DELETE", "/api/collections/posts", nil, 204)
		s.Admin(t, "GET", "/api/collections/posts", nil, 404)
	})
}

func TestCompression(t *testing.T) {
	s := setup(t, apitest.SQLite)
	for i := range 40 {
		s.Admin(t, "POST", "/api/collections/posts/records", map[string]any{"title": strings.Repeat("word ", 20) + fmt.Sprint(i)}, 201)
	}
	req, _ := http.NewRequest("GET", s.URL+"/api/collections/posts/records?limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+s.AdminKey)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil || !strings.Contains(string(body), `"next_cursor"`) {
		t.Errorf("gzip body = %.100s, %v", body, err)
	}
}

func TestFieldBecomesRequired(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := setup(t, d)
		s.Admin(t, "POST", "/api/collections/posts/records", map[string]any{"id": "nodraft", "title": "x"}, 201)
		fields := func(def any) map[string]any {
			draft := map[string]any{"name": "draft", "type": "bool", "required": true}
			if def != nil {
				draft["default"] = def
			}
			return map[string]any{"fields": []any{
				map[string]any{"name": "title", "type": "text", "required": true}, map[string]any{"name": "views", "type": "number"}, draft,
				map[string]any{"name": "slug", "type": "text", "unique": true},
				map[string]any{"name": "summary", "type": "text", "required": true, "default": "none"},
			}}
		}
		r := s.Do(t, apitest.Request{Method: "PATCH", Path: "/api/collections/posts", Key: s.AdminKey, Body: fields(nil)})
		if r.StatusCode != 422 || !strings.Contains(string(r.Body), `"field":"draft"`) {
			t.Fatalf("making draft required without a default = %d %s, want 422 naming draft", r.StatusCode, r.Body)
		}
		s.Admin(t, "PATCH", "/api/collections/posts", fields(false), 200)
		rec := s.Admin(t, "GET", "/api/collections/posts/records/nodraft", nil, 200)
		if rec["draft"] != false || rec["summary"] != "none" {
			t.Errorf("after the change the record is %v, want draft false and summary none", rec)
		}
	})
}

// TestWritesDuringSchemaChanges changes a collection's definition while
// clients write to it: every write either succeeds or gets a 4xx, never a
// 500, and no change half-applies.
func TestWritesDuringSchemaChanges(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := setup(t, d)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					r := s.Do(t, apitest.Request{Method: "POST", Path: "/api/collections/posts/records", Key: s.ServiceKey,
						Body: map[string]any{"title": fmt.Sprint("w", w, "-", i)}})
					if r.StatusCode >= 500 {
						t.Errorf("write during schema change = %d %s", r.StatusCode, r.Body)
						return
					}
				}
			})
		}
		for i := range 6 {
			fields := []any{map[string]any{"name": "title", "type": "text", "required": true}, map[string]any{"name": "views", "type": "number"},
				map[string]any{"name": "slug", "type": "text", "unique": true}}
			if i%2 == 0 {
				fields = append(fields, map[string]any{"name": "extra", "type": "text", "default": "x"})
			}
			s.Admin(t, "PATCH", "/api/collections/posts", map[string]any{"fields": fields}, 200)
		}
		close(stop)
		wg.Wait()
	})
}
