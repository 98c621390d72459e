package api_test

import (
	"context"
	"database/sql"
	"path/filepath"

	"basalt.dev/basalt/internal/bench"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"basalt.dev/basalt/api/apitest"
)

// benchServer seeds n posts and returns the server and their ids.
func benchServer(b *testing.B, n int) (*apitest.Server, []string) {
	s := apitest.Start(b, apitest.SQLite)
	s.Admin(b, "POST", "/api/collections", map[string]any{"name": "posts", "fields": []map[string]any{
		{"name": "title", "type": "text"}, {"name": "views", "type": "number"}, {"name": "draft", "type": "bool"}, {"name": "body", "type": "text"}},
		"indexes": []map[string]any{{"fields": []string{"views"}}}}, 201)
	ids := make([]string, n)
	for i := range n {
		rec := s.Admin(b, "POST", "/api/collections/posts/records", map[string]any{"title": fmt.Sprint("Post ", i), "views": rand.IntN(100000), "draft": i%3 == 0, "body": "A short body of text."}, 201)
		ids[i] = rec["id"].(string)
	}
	return s, ids
}

// serve runs one request through the whole handler, without a network.
func serve(b *testing.B, h http.Handler, key, target string) {
	req := httptest.NewRequest("GET", target, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept-Encoding", "gzip") // as Go's HTTP client sends
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		b.Fatalf("GET %s = %d %s", target, w.Code, w.Body)
	}
}

func BenchmarkGetRecord(b *testing.B) {
	s, ids := benchServer(b, 2000)
	h := s.App.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			serve(b, h, s.AdminKey, "/api/collections/posts/records/"+ids[rand.IntN(len(ids))])
		}
	})
}

func BenchmarkListRecords(b *testing.B) {
	s, _ := benchServer(b, 2000)
	h := s.App.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			serve(b, h, s.AdminKey, fmt.Sprintf("/api/collections/posts/records?filter=%s&sort=views&limit=20", strings.ReplaceAll(fmt.Sprint("views >= ", rand.IntN(100000)), " ", "%20")))
		}
	})
}

// BenchmarkGetRecordCeiling serves the same point read with the load
// tool's bare handler on the same file: the handler-level ceiling.
func BenchmarkGetRecordCeiling(b *testing.B) {
	s, ids := benchServer(b, 2000)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.Config.Data, "data.db")+"?mode=ro")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	h, err := bench.CeilingHandler(context.Background(), db)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			serve(b, h, "", "/records/"+ids[rand.IntN(len(ids))])
		}
	})
}
