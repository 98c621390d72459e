package api

import "net/http"

// HandleForTest registers a route on a server made by NewServer, behind
// all its middleware, for tests that need a handler they control.
func HandleForTest(h http.Handler, pattern string, route http.Handler) {
	h.(*Server).handle(pattern, route)
}
