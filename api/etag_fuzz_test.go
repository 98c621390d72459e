package api

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt"
)

// etagSeeds are the seeds of FuzzETag; the same values are in
// testdata/fuzz/FuzzETag.
var etagSeeds = []struct {
	name    string
	header  string
	version int64
	micros  int64
}{
	{"plain", `"1-abc"`, 1, 1714564800123456},
	{"weak", `W/"3-lvcx5kds"`, 3, 1714564800123456},
	{"compressed", `"3-lvcx5kds~gz"`, 3, 0},
	{"trimmed", `"2-lvcx5kds-f1a2b3"`, 2, -1},
	{"star", `*`, 1, 35},
	{"list", `"1-a", W/"2-b"`, 1 << 62, -35},
	{"empty", ``, 9223372036854775807, -9223372036854775808},
	{"unquoted", `1-abc`, 1, 9223372036854775807},
	{"one quote", `"`, 1, 253402300799999999},
	{"negative version", `"-1-abc"`, 1, -62135596800000000},
	{"zero version", `"0-abc"`, 1, 1},
	{"negative time", `"1--abc"`, 2, -1296},
	{"huge version", `"99999999999999999999-a"`, 1, 36},
	{"bad base 36", `"1-a_b"`, 1, 1295},
	{"spaces", "  W/\"1-a\"\t", 1, 46655},
	{"only suffix", `"~gz"`, 1, 71},
}

// FuzzETag checks that the ETag parsers never panic, that If-Match fails
// only with a validation error or a failed precondition, and that the
// ETag of a record reads back to its version and update time.
func FuzzETag(f *testing.F) {
	for _, s := range etagSeeds {
		f.Add(s.header, s.version, s.micros)
	}
	f.Fuzz(func(t *testing.T, header string, version, micros int64) {
		parseETag(header)
		noneMatch(header, `"1-a"`)
		if v, err := ifMatch(header); err != nil {
			if code := basalt.ErrorCode(err); code != basalt.CodeValidation && code != basalt.CodePreconditionFailed {
				t.Fatalf("ifMatch(%q) error = %v, code %s, want validation or precondition_failed", header, err, code)
			}
		} else if v != nil && v.Version < 1 {
			t.Fatalf("ifMatch(%q) = version %d, want at least 1", header, v.Version)
		}

		if version < 1 {
			return // versions start at 1
		}
		r := &basalt.Record{Version: version, Updated: time.UnixMicro(micros).UTC()}
		tag := etag(r, nil)
		checkETagRoundTrip(t, r, tag)
	})
}

// checkETagRoundTrip checks that tag, the ETag of r, reads back to r's
// version and update time in every form a client may send it.
func checkETagRoundTrip(t *testing.T, r *basalt.Record, tag string) {
	t.Helper()
	compressed := tag[:len(tag)-1] + compressETagSuffix + `"`
	for _, sent := range []string{tag, "W/" + tag, compressed, " " + tag + " "} {
		if !noneMatch(sent, tag) || !noneMatch(`"other", `+sent, tag) {
			t.Fatalf("noneMatch(%s, %s) = false, want true", sent, tag)
		}
		v, ok := parseETag(sent)
		if !ok || v.Version != r.Version || !v.Updated.Equal(r.Updated) {
			t.Fatalf("parseETag(%s) = %+v, %v, want version %d, updated %s (µs %d)", sent, v, ok, r.Version, r.Updated, r.Updated.UnixMicro())
		}
		if strings.HasPrefix(sent, "W/") {
			continue // If-Match should compare strongly (RFC 9110 13.1.1): not asserted
		}
		if v, err := ifMatch(sent); err != nil || v.Version != r.Version || !v.Updated.Equal(r.Updated) {
			t.Fatalf("ifMatch(%s) = %+v, %v, want version %d, updated %s", sent, v, err, r.Version, r.Updated)
		}
	}
	if noneMatch(`"0-0"`, tag) {
		t.Fatalf("noneMatch(%q, %s) = true, want false", `"0-0"`, tag)
	}
	trimmed := etag(r, map[string]bool{"title": true})
	if trimmed == tag || noneMatch(tag, trimmed) || noneMatch(trimmed, tag) {
		t.Fatalf("the trimmed ETag %s matches the full ETag %s", trimmed, tag)
	}
}

// TestETagEndingInZ: the ETag of a record updated 35 µs from the Unix
// epoch, "<version>-z", reads back whole; the compression suffix cannot
// end one of our ETags.
func TestETagEndingInZ(t *testing.T) {
	t.Parallel()
	r := &basalt.Record{Version: 1, Updated: time.UnixMicro(35).UTC()}
	tag := etag(r, nil)
	if v, ok := parseETag(tag); !ok || v.Version != 1 || !v.Updated.Equal(r.Updated) {
		t.Errorf("parseETag(etag(version 1, µs 35) = %s) = %+v, %v, want version 1 and the time back", tag, v, ok)
	}
}

// requestIDSeeds are the seeds of FuzzRequestID; the same values are in
// testdata/fuzz/FuzzRequestID.
var requestIDSeeds = []struct{ name, in string }{
	{"empty", ""},
	{"plain", "req-1"},
	{"all classes", "Ab09-_.:"},
	{"uuid", "0f8fad5b-d9cb-469f-a165-70867728950e"},
	{"longest", strings.Repeat("a", 128)},
	{"too long", strings.Repeat("a", 129)},
	{"space", "a b"},
	{"newline", "a\nb"},
	{"log injection", "x\" level=error msg=\"forged"},
	{"non ascii", "réq"},
	{"invalid utf8", "a\xff"},
	{"nul", "\x00"},
	{"slash", "a/b"},
}

// FuzzRequestID checks that requestID keeps a plain client id and
// replaces anything else with 24 hex digits.
func FuzzRequestID(f *testing.F) {
	for _, s := range requestIDSeeds {
		f.Add(s.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := requestID(in)
		if plainID(in) {
			if got != in {
				t.Fatalf("requestID(%q) = %q, want %q", in, got, in)
			}
			return
		}
		if _, err := hex.DecodeString(got); len(got) != 24 || err != nil || strings.ToLower(got) != got {
			t.Fatalf("requestID(%q) = %q, want 24 lower-case hex digits", in, got)
		}
	})
}

// plainID is the oracle of requestID: 1 to 128 of [A-Za-z0-9-_.:].
func plainID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.:", c) >= 0) {
			return false
		}
	}
	return true
}
