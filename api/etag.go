package api

import (
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// An ETag names one state of a record: "<version>-<updated, µs, base 36>".
// A trimmed representation (fields=) adds "-f<hash of the fields>".

func etag(r *basalt.Record, fields map[string]bool) string {
	b := make([]byte, 0, 40)
	b = append(b, '"')
	b = strconv.AppendInt(b, r.Version, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, r.Updated.UnixMicro(), 36)
	if fields != nil {
		h := fnv.New32a()
		for _, f := range slices.Sorted(maps.Keys(fields)) {
			h.Write([]byte(f))
			h.Write([]byte{','})
		}
		b = append(b, "-f"...)
		b = strconv.AppendUint(b, uint64(h.Sum32()), 36)
	}
	return string(append(b, '"'))
}

// parseETag reads a full-representation ETag back into a version.
func parseETag(tag string) (*store.Version, bool) {
	tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return nil, false
	}
	tag = uncompressedTag(tag[1 : len(tag)-1])
	v, u, ok := strings.Cut(tag, "-")
	if !ok {
		return nil, false
	}
	version, err1 := strconv.ParseInt(v, 10, 64)
	micros, err2 := strconv.ParseInt(u, 36, 64)
	if err1 != nil || err2 != nil || version < 1 {
		return nil, false
	}
	return &store.Version{Version: version, Updated: time.UnixMicro(micros).UTC()}, true
}

// noneMatch reports whether an If-None-Match header lists tag (weak
// comparison, as RFC 9110 prescribes for If-None-Match).
func noneMatch(header, tag string) bool {
	if header == "" {
		return false
	}
	want := strings.Trim(tag, `"`)
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" {
			return true
		}
		if uncompressedTag(strings.Trim(t, `"`)) == want {
			return true
		}
	}
	return false
}

// uncompressedTag returns the opaque part of an ETag without the suffix
// that compression adds to it: compressETagSuffix, then "-gzip" or
// "-zstd" from gzhttp.
func uncompressedTag(tag string) string {
	if i := strings.Index(tag, compressETagSuffix); i >= 0 {
		return tag[:i]
	}
	return tag
}

// ifMatch turns an If-Match header into the precondition of a write: nil
// for no header or "*" (the write already requires the record to exist).
// A tag that this server cannot have made can match nothing: 412.
func ifMatch(header string) (*store.Version, error) {
	header = strings.TrimSpace(header)
	if header == "" || header == "*" {
		return nil, nil
	}
	if strings.Contains(header, ",") {
		return nil, basalt.Errorf(basalt.CodeValidation, "If-Match must hold one ETag.")
	}
	v, ok := parseETag(header)
	if !ok || strings.HasPrefix(header, "W/") { // If-Match compares strongly (RFC 9110 13.1.1)
		return nil, basalt.Errorf(basalt.CodePreconditionFailed, "If-Match %s does not match the record's current ETag.", header)
	}
	return v, nil
}
