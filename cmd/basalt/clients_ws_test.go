package main_test

import "testing"

// TestWebSocketNPM follows the stream over /api/realtime/ws with the npm
// ws package, in the two ways of TestEventSourceNPM (an Authorization
// header, and a fresh ticket per connection): each client opens a new
// connection after the cut and subscribes with after, the position of
// the last event it had, and gets what it missed, once.
func TestWebSocketNPM(t *testing.T) { testNodeClients(t, "ws-node.mjs", "npm ws") }

// TestBrowserWebSocket serves a page, from an origin other than Basalt's,
// that follows the stream with headless Chromium's own WebSocket, with a
// ticket it gets with Ada's token; after the cut it reconnects with a new
// ticket and subscribes with after.
func TestBrowserWebSocket(t *testing.T) { testBrowser(t, "ws.html", "browser-ws") }
