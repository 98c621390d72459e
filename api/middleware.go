package api

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"basalt.dev/basalt"
	"github.com/klauspost/compress/gzhttp"
	"github.com/rs/cors"
)

// reqInfo is the per-request state that middleware and handlers share:
// it is made by the outermost middleware and filled in on the way.
type reqInfo struct {
	id        string
	route     string
	principal string
	tenant    string
	code      basalt.Code
	err       error // cause of a 5xx, for the log line
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	info, _ := ctx.Value(infoKey{}).(*reqInfo)
	return info
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flush,
// deadlines) through this writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe is the outermost middleware: it assigns the request id, and when
// the request ends writes the one access-log line and the metrics.
func observe(log *accessLog, m *Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{id: requestID(r.Header.Get("X-Request-Id")), route: "unmatched"}
		w.Header().Set("X-Request-Id", info.id)
		sw := &statusWriter{ResponseWriter: w}
		m.inflight.Inc()
		defer func() {
			m.inflight.Dec()
			elapsed := time.Since(start)
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			m.observe(info.route, sw.status, elapsed)
			if log != nil {
				log.write(r, info, sw.status, sw.bytes, elapsed)
			}
		}()
		ctx := context.WithValue(r.Context(), infoKey{}, info)
		next.ServeHTTP(sw, r.WithContext(basalt.WithClientIP(ctx, clientIP(r))))
	})
}

// requestID keeps a client's X-Request-Id when it is short and plain, so
// a request can be followed across services, and makes one otherwise.
func requestID(in string) string {
	if in != "" && len(in) <= 128 && strings.Trim(in, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") == "" {
		return in
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recoverPanics turns a panic into a 500 problem; the server keeps
// running and the stack goes to the log.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err := fmt.Errorf("panic: %v", v)
			log.Error("panic", "request_id", requestIDOf(r), "err", err, "stack", string(debug.Stack()))
			writeProblem(w, r, err)
		}()
		next.ServeHTTP(w, r)
	})
}

func requestIDOf(r *http.Request) string {
	if info := infoFrom(r.Context()); info != nil {
		return info.id
	}
	return ""
}

// secureHeaders sets the headers every API response carries. The API
// returns only JSON, so nothing may be framed, sniffed or run.
//
// The values are shared slices, set without Header.Set's allocation: they
// are never appended to in place (an append to a full slice copies).
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = nosniff
		h["X-Frame-Options"] = deny
		h["Referrer-Policy"] = noReferrer
		h["Content-Security-Policy"] = cspNone
		if r.TLS != nil {
			h["Strict-Transport-Security"] = hsts
		}
		next.ServeHTTP(w, r)
	})
}

var (
	nosniff    = []string{"nosniff"}
	deny       = []string{"DENY"}
	noReferrer = []string{"no-referrer"}
	cspNone    = []string{"default-src 'none'; frame-ancestors 'none'"}
	hsts       = []string{"max-age=31536000; includeSubDomains"}
	jsonType   = []string{"application/json"}
)

// withCORS answers preflight requests and marks responses readable by the
// configured origins. No origins: no CORS headers at all.
func withCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-Id", "Last-Event-ID", "Basalt-Min-Position"},
		ExposedHeaders: []string{"ETag", "Location", "X-Request-Id", "RateLimit", "RateLimit-Policy", "Retry-After", "Basalt-Position"},
		MaxAge:         600,
	})
	return c.Handler(next)
}

// compressETagSuffix marks the ETag of a compressed response, which is a
// different representation (RFC 9110 8.8.3); gzhttp follows it with
// "-gzip" or "-zstd", and conditionals strip all three.
//
// "~" cannot appear in an ETag of ours, whose characters are digits,
// letters and "-".
const compressETagSuffix = "~gz"

// compress negotiates gzip or zstd for responses of 1 KiB and more, at
// the fastest levels: JSON shrinks several-fold even there, and a higher
// level costs more processor time than it saves on the wire.
func compress(next http.Handler) http.Handler {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(1024), gzhttp.CompressionLevel(gzip.BestSpeed),
		gzhttp.EnableZstd(true), gzhttp.SuffixETag(compressETagSuffix))
	if err != nil {
		panic(err) // the options are constants
	}
	return wrap(next)
}

// limitBody caps request bodies; a larger body gets 413 before any of it
// is read when its length is declared, and as soon as it passes the cap
// otherwise.
func limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			writeProblem(w, r, tooLarge(limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

var errBodyTooLarge = errors.New("request body too large")

func tooLarge(limit int64) error {
	return &basalt.Error{Code: basalt.CodeTooLarge, Err: errBodyTooLarge,
		Message: "The request body is larger than " + strconv.FormatInt(limit, 10) + " bytes."}
}

// withTimeout bounds the time a handler may spend; the store and every
// call below stop when the context ends.
func withTimeout(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// clientIP is the client's address: the peer's, or behind trusted
// proxies the one their forwarding header names (trustProxies).
func clientIP(r *http.Request) string {
	if ip := basalt.ClientIP(r.Context()); ip != "" {
		return ip
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}
