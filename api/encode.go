package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"basalt.dev/basalt"
)

// readJSON reads a request body that must be JSON. Content-Type must say
// so (415 otherwise); a body over the limit is 413.
func readJSON(r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil, basalt.Errorf(basalt.CodeUnsupportedMediaType, "Send the body as JSON with Content-Type: application/json.")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, basalt.Errorf(basalt.CodeUnsupportedMediaType, "JSON bodies must be UTF-8; charset %q is not supported.", cs)
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(mbe.Limit)
		}
		return nil, &basalt.Error{Code: basalt.CodeBadRequest, Message: "The request body could not be read.", Err: err}
	}
	return data, nil
}

// decodeStrict decodes a JSON body into v, refusing unknown keys and
// trailing data, with errors that name the offending key.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return basalt.Errorf(basalt.CodeValidation, "The body must hold one JSON value and nothing after it.")
	}
	return nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return &basalt.Error{Code: basalt.CodeValidation, Message: "The body is empty or ends early; send a complete JSON object.", Err: err}
	case errors.As(err, &se):
		return &basalt.Error{Code: basalt.CodeValidation, Message: fmt.Sprintf("Malformed JSON at byte %d: %s.", se.Offset, se.Error()), Err: err}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return basalt.Invalid("Invalid request body.", basalt.FieldError{Field: field, Code: "type",
			Message: fmt.Sprintf("%s must be %s, not %s", field, jsonKind(te.Type.Kind().String()), te.Value)})
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return basalt.Invalid("Invalid request body.", basalt.FieldError{Field: name, Code: "unknown_field",
			Message: fmt.Sprintf("%q is not a known key", name)})
	}
	return &basalt.Error{Code: basalt.CodeValidation, Message: "The body is not valid JSON for this request.", Err: err}
}

func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int64", "float64", "uint", "int32":
		return "a number"
	}
	return kind
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, append(data, '\n'))
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// bufPool recycles the buffers responses are built in.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 1<<20 {
		return // let a rare huge buffer go rather than pin it
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
