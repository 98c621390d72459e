package api

import (
	"net/http"
	"strconv"

	"basalt.dev/basalt"
	"basalt.dev/basalt/records"
)

// pageChunk is the size past which a list response is streamed: a page
// that fits is sent whole, with its Content-Length, in one write; a
// larger one goes out in pieces of about this size as its records are
// encoded, so the server never holds the whole body of a page of 500
// large records.
const pageChunk = 32 << 10

// writePage writes one page of a list.
//
// A list carries no ETag: its tag would have to cover every record on
// the page and the count, known only once the whole body is made, while
// a streamed page sends its headers before the first record is encoded.
// Conditional requests are for single records, whose ETag is their
// version.
func writePage(w http.ResponseWriter, page *records.Page) {
	buf := getBuf()
	defer putBuf(buf)
	b := append(*buf, `{"items":[`...)
	streaming := false
	for i, rec := range page.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = basalt.AppendRecordJSON(b, page.Collection, rec, page.Fields)
		if len(b) < pageChunk {
			continue
		}
		if !streaming {
			w.Header()["Content-Type"] = jsonType
			w.WriteHeader(http.StatusOK)
			streaming = true
		}
		if _, err := w.Write(b); err != nil {
			*buf = b
			return // the client went away
		}
		b = b[:0]
	}
	b = append(b, `],"next_cursor":`...)
	if page.NextCursor == "" {
		b = append(b, "null"...)
	} else {
		b = basalt.AppendJSONString(b, page.NextCursor)
	}
	if page.Total != nil {
		b = append(b, `,"total":`...)
		b = strconv.AppendInt(b, *page.Total, 10)
	}
	b = append(b, "}\n"...)
	*buf = b
	if streaming {
		_, _ = w.Write(b)
		return
	}
	writeRaw(w, http.StatusOK, b)
}
