package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"

	"basalt.dev/basalt/api/apitest"
	"github.com/klauspost/compress/zstd"
)

// TestListCount: count=true adds the number of records that match the
// filter and the list rule, the same on every page; without it there is
// no total.
func TestListCount(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		s.Admin(t, "POST", "/api/collections", map[string]any{
			"name":   "notes",
			"fields": []map[string]any{{"name": "owner", "type": "text"}, {"name": "n", "type": "number"}},
			"rules":  map[string]any{"list": "owner = @auth.id", "view": "owner = @auth.id", "create": "owner = @auth.id"},
		}, 201)
		ada, bob := signup(t, s, "ada@example.com"), signup(t, s, "bob@example.com")
		adaID := as(t, s, ada, "GET", "/api/auth/me", nil, 200)["id"].(string)
		bobID := as(t, s, bob, "GET", "/api/auth/me", nil, 200)["id"].(string)
		const notes = "/api/collections/notes/records"
		for i := range 7 {
			as(t, s, ada, "POST", notes, map[string]any{"owner": adaID, "n": i}, 201)
		}
		for i := range 3 {
			as(t, s, bob, "POST", notes, map[string]any{"owner": bobID, "n": i}, 201)
		}

		for _, tc := range []struct {
			who, token, query string
			want              float64
		}{
			{"admin key", s.AdminKey, "", 10},
			{"admin key", s.AdminKey, "&filter=" + q("n >= 2"), 6},
			{"ada", ada, "", 7},
			{"ada", ada, "&filter=" + q("n >= 2"), 5},
			{"bob", bob, "", 3},
			{"anonymous", "", "", 0},
		} {
			// Every page, the last included, has the same total.
			path := notes + "?count=true&limit=2&sort=n" + tc.query
			seen := 0
			for page := 0; ; page++ {
				body := as(t, s, tc.token, "GET", path, nil, 200)
				if body["total"] != tc.want {
					t.Errorf("%s: GET %s total = %v, want %v", tc.who, path, body["total"], tc.want)
				}
				seen += len(body["items"].([]any))
				next, _ := body["next_cursor"].(string)
				if next == "" || page > 10 {
					break
				}
				path = notes + "?count=true&limit=2&sort=n" + tc.query + "&cursor=" + q(next)
			}
			if float64(seen) != tc.want {
				t.Errorf("%s%s: the pages hold %d records, but total says %v", tc.who, tc.query, seen, tc.want)
			}
		}

		for _, query := range []string{"", "?count=false"} {
			if body := s.Admin(t, "GET", notes+query, nil, 200); body["total"] != nil {
				t.Errorf("GET %s%s has total %v, want none", notes, query, body["total"])
			}
		}
		r := s.Do(t, apitest.Request{Method: "GET", Path: notes + "?count=yes", Key: s.AdminKey})
		if r.StatusCode != 400 || r.Code(t) != "validation" || !strings.Contains(string(r.Body), `"field":"count"`) {
			t.Errorf("count=yes = %d %s, want 400 naming count", r.StatusCode, r.Body)
		}
	})
}

// TestListStreams: a page larger than the server's chunk is streamed
// (no Content-Length) and arrives whole; a small page keeps its length.
func TestListStreams(t *testing.T) {
	s := setup(t, apitest.SQLite)
	long := strings.Repeat("a long title, ", 40) // ~560 bytes a record
	for i := range 150 {
		s.Admin(t, "POST", "/api/collections/posts/records", map[string]any{"title": fmt.Sprint(long, i), "views": i}, 201)
	}
	get := func(limit int) (*http.Response, []byte) {
		r := s.Do(t, apitest.Request{Method: "GET", Path: fmt.Sprintf("/api/collections/posts/records?sort=views&count=true&limit=%d", limit),
			Key: s.AdminKey, Header: map[string]string{"Accept-Encoding": "identity"}})
		return r.Response, r.Body
	}
	resp, body := get(151)
	if resp.StatusCode != 200 || resp.ContentLength != -1 || len(body) < 64<<10 {
		t.Errorf("a page of 151 large records = %d, Content-Length %d, %d bytes; want 200, streamed (-1), over 64 KiB", resp.StatusCode, resp.ContentLength, len(body))
	}
	var page struct {
		Items []struct {
			Title string
			Views float64
		}
		NextCursor *string `json:"next_cursor"`
		Total      int
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("streamed page is not JSON: %v", err)
	}
	if len(page.Items) != 151 || page.NextCursor != nil || page.Total != 151 {
		t.Fatalf("streamed page has %d items, next_cursor %v, total %d; want 151, null, 151", len(page.Items), page.NextCursor, page.Total)
	}
	for i, it := range page.Items {
		if it.Title != "Hello" && !strings.HasPrefix(it.Title, long) { // Hello: setup's record
			t.Fatalf("item %d of the streamed page = %q", i+1, it.Title)
		}
	}
	if resp, _ := get(3); resp.ContentLength <= 0 {
		t.Errorf("a page of 3 records has Content-Length %d, want its length", resp.ContentLength)
	}
}

// TestCompressionNegotiation: the server picks zstd or gzip by the
// client's Accept-Encoding and its q-values, zstd on a tie, nothing for
// codings it does not offer; and a compressed record's ETag still works
// in If-None-Match and If-Match.
func TestCompressionNegotiation(t *testing.T) {
	s := setup(t, apitest.SQLite)
	for i := range 20 {
		s.Admin(t, "POST", "/api/collections/posts/records", map[string]any{"title": strings.Repeat("word ", 20) + fmt.Sprint(i)}, 201)
	}
	big := s.Admin(t, "POST", "/api/collections/posts/records", map[string]any{"title": strings.Repeat("a larger record ", 100)}, 201)
	get := func(path, accept string, header map[string]string) (*http.Response, []byte) {
		h := map[string]string{"Accept-Encoding": accept}
		maps.Copy(h, header)
		r := s.Do(t, apitest.Request{Method: "GET", Path: path, Key: s.AdminKey, Header: h})
		return r.Response, decode(t, r.Header.Get("Content-Encoding"), r.Body)
	}
	for _, tc := range []struct{ accept, want string }{
		{"zstd", "zstd"},
		{"gzip", "gzip"},
		{"gzip, zstd", "zstd"},
		{"gzip, deflate, br, zstd", "zstd"},
		{"zstd;q=0.5, gzip", "gzip"},
		{"gzip;q=0.2, zstd;q=0.8", "zstd"},
		{"zstd;q=0, gzip;q=0.1", "gzip"},
		{"gzip;q=0", ""},
		{"br", ""},
		{"identity", ""},
	} {
		resp, body := get("/api/collections/posts/records?limit=100", tc.accept, nil)
		if got := resp.Header.Get("Content-Encoding"); got != tc.want {
			t.Errorf("Accept-Encoding %q: Content-Encoding = %q, want %q", tc.accept, got, tc.want)
		}
		if !bytes.Contains(body, []byte(`"next_cursor"`)) {
			t.Errorf("Accept-Encoding %q: body = %.100s", tc.accept, body)
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("Accept-Encoding %q: Vary = %q, want Accept-Encoding", tc.accept, resp.Header.Get("Vary"))
		}
	}

	path := "/api/collections/posts/records/" + big["id"].(string)
	for _, enc := range []string{"gzip", "zstd"} {
		resp, _ := get(path, enc, nil)
		tag := resp.Header.Get("ETag")
		if resp.Header.Get("Content-Encoding") != enc || tag == "" {
			t.Fatalf("%s: GET of a large record = %s, ETag %q", enc, resp.Header.Get("Content-Encoding"), tag)
		}
		if resp, _ := get(path, enc, map[string]string{"If-None-Match": tag}); resp.StatusCode != 304 {
			t.Errorf("%s: If-None-Match %s = %d, want 304", enc, tag, resp.StatusCode)
		}
		if resp, _ := get(path, "identity", map[string]string{"If-None-Match": tag}); resp.StatusCode != 304 {
			t.Errorf("%s: If-None-Match %s without compression = %d, want 304 (same record, same version)", enc, tag, resp.StatusCode)
		}
		r := s.Do(t, apitest.Request{Method: "PATCH", Path: path, Key: s.AdminKey, Body: map[string]any{"views": 1}, Header: map[string]string{"If-Match": tag}})
		if r.StatusCode != 200 {
			t.Errorf("%s: PATCH with If-Match %s = %d %s, want 200", enc, tag, r.StatusCode, r.Body)
		}
	}
}

func decode(t *testing.T, encoding string, body []byte) []byte {
	t.Helper()
	var r io.Reader
	switch encoding {
	case "":
		return body
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unexpected Content-Encoding %q", encoding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s body does not decode: %v", encoding, err)
	}
	return out
}
