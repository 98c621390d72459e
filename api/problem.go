package api

import (
	"errors"
	"net/http"
	"strconv"

	"basalt.dev/basalt"
)

// statusByCode maps each error code to its one HTTP status.
var statusByCode = map[basalt.Code]int{
	basalt.CodeValidation:           http.StatusBadRequest,
	basalt.CodeBadRequest:           http.StatusBadRequest,
	basalt.CodeUnauthenticated:      http.StatusUnauthorized,
	basalt.CodeForbidden:            http.StatusForbidden,
	basalt.CodeNotFound:             http.StatusNotFound,
	basalt.CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	basalt.CodeNotAcceptable:        http.StatusNotAcceptable,
	basalt.CodeConflict:             http.StatusConflict,
	basalt.CodePreconditionFailed:   http.StatusPreconditionFailed,
	basalt.CodeTooLarge:             http.StatusRequestEntityTooLarge,
	basalt.CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	basalt.CodeUnprocessable:        http.StatusUnprocessableEntity,
	basalt.CodeRateLimited:          http.StatusTooManyRequests,
	basalt.CodeQuotaExceeded:        http.StatusForbidden, // 429 when it carries Retry-After, see writeProblem
	basalt.CodeInternal:             http.StatusInternalServerError,
	basalt.CodeUnavailable:          http.StatusServiceUnavailable,
	basalt.CodeTimeout:              http.StatusGatewayTimeout,
	basalt.CodeOverloaded:           http.StatusServiceUnavailable,
}

// titleByCode is the short, constant title of each code.
var titleByCode = map[basalt.Code]string{
	basalt.CodeValidation:           "Invalid request",
	basalt.CodeBadRequest:           "Bad request",
	basalt.CodeUnauthenticated:      "Authentication required",
	basalt.CodeForbidden:            "Forbidden",
	basalt.CodeNotFound:             "Not found",
	basalt.CodeMethodNotAllowed:     "Method not allowed",
	basalt.CodeNotAcceptable:        "Not acceptable",
	basalt.CodeConflict:             "Conflict",
	basalt.CodePreconditionFailed:   "Precondition failed",
	basalt.CodeTooLarge:             "Request too large",
	basalt.CodeUnsupportedMediaType: "Unsupported media type",
	basalt.CodeUnprocessable:        "Unprocessable request",
	basalt.CodeRateLimited:          "Too many requests",
	basalt.CodeQuotaExceeded:        "Quota exceeded",
	basalt.CodeInternal:             "Internal error",
	basalt.CodeUnavailable:          "Service unavailable",
	basalt.CodeTimeout:              "Timeout",
	basalt.CodeOverloaded:           "Overloaded",
}

// ProblemTypeBase prefixes each problem's type URI; the code completes it.
const ProblemTypeBase = "https://basalt.dev/errors/"

// writeProblem writes err as an RFC 9457 problem. A *basalt.Error anywhere
// in the chain gives the code and public message; anything else is an
// internal error whose cause is logged with the request id and never sent.
func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	code := basalt.ErrorCode(err)
	if errors.Is(err, errBodyTooLarge) {
		code = basalt.CodeTooLarge
	}
	status, ok := statusByCode[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	var ra interface{ Seconds() string }
	if code == basalt.CodeQuotaExceeded && errors.As(err, &ra) {
		// A request quota lifts when its period ends: wait and retry.
		status = http.StatusTooManyRequests
	}
	if info := infoFrom(r.Context()); info != nil {
		info.code = code
		if status >= 500 {
			info.err = err
		}
	}
	var fields []basalt.FieldError
	var e *basalt.Error
	if errors.As(err, &e) {
		fields = e.Fields
	}
	buf := append(make([]byte, 0, 256), `{"type":`...)
	buf = basalt.AppendJSONString(buf, ProblemTypeBase+string(code))
	buf = append(buf, `,"title":`...)
	buf = basalt.AppendJSONString(buf, titleByCode[code])
	buf = append(buf, `,"status":`...)
	buf = strconv.AppendInt(buf, int64(status), 10)
	buf = append(buf, `,"code":`...)
	buf = basalt.AppendJSONString(buf, string(code))
	buf = append(buf, `,"detail":`...)
	buf = basalt.AppendJSONString(buf, basalt.ErrorMessage(err))
	buf = append(buf, `,"instance":`...)
	buf = basalt.AppendJSONString(buf, r.URL.Path)
	if info := infoFrom(r.Context()); info != nil {
		buf = append(buf, `,"request_id":`...)
		buf = basalt.AppendJSONString(buf, info.id)
	}
	if len(fields) > 0 {
		buf = append(buf, `,"errors":[`...)
		for i, f := range fields {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"field":`...)
			buf = basalt.AppendJSONString(buf, f.Field)
			buf = append(buf, `,"code":`...)
			buf = basalt.AppendJSONString(buf, f.Code)
			buf = append(buf, `,"message":`...)
			buf = basalt.AppendJSONString(buf, f.Message)
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	buf = append(buf, '}', '\n')
	h := w.Header()
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(buf)))
	h.Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="basalt"`)
	}
	if errors.As(err, &ra) {
		h.Set("Retry-After", ra.Seconds())
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf)
}
