package basalt

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error class. Codes appear in API
// responses, so they are append-only and never renamed.
type Code string

// The error codes. The HTTP layer maps each to one status in one table.
const (
	CodeValidation           Code = "validation"             // 400: the input is malformed or invalid
	CodeBadRequest           Code = "bad_request"            // 400: the request itself is malformed
	CodeUnauthenticated      Code = "unauthenticated"        // 401: no or bad credentials
	CodeForbidden            Code = "forbidden"              // 403: authenticated, but not allowed
	CodeNotFound             Code = "not_found"              // 404
	CodeMethodNotAllowed     Code = "method_not_allowed"     // 405
	CodeNotAcceptable        Code = "not_acceptable"         // 406
	CodeConflict             Code = "conflict"               // 409: a unique value is taken, or the state forbids it
	CodePreconditionFailed   Code = "precondition_failed"    // 412: If-Match did not match
	CodeTooLarge             Code = "too_large"              // 413
	CodeUnsupportedMediaType Code = "unsupported_media_type" // 415
	CodeUnprocessable        Code = "unprocessable"          // 422: well-formed but semantically impossible
	CodeRateLimited          Code = "rate_limited"           // 429
	CodeQuotaExceeded        Code = "quota_exceeded"         // 403, or 429 with Retry-After for a request quota: a tenant is at a quota
	CodeInternal             Code = "internal"               // 500: a fault of ours; the cause is logged, never sent
	CodeUnavailable          Code = "unavailable"            // 503
	CodeTimeout              Code = "timeout"                // 504
	CodeOverloaded           Code = "overloaded"             // 503: too much work at once; retry after Retry-After
)

// Error is an error a client can act on. Message is safe to show and says
// how to fix the problem; Err is the cause, logged but never sent.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	Err     error
}

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted public message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation error listing the invalid fields.
func Invalid(message string, fields ...FieldError) *Error {
	return &Error{Code: CodeValidation, Message: message, Fields: fields}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when there is none. A nil error has no code.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the public message of the first *Error in err's
// chain, or a generic message that reveals nothing of an internal fault.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "An internal error occurred; it has been logged."
}
