package api

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// A connStamp records when the data of a connection's last read reached
// the socket: the kernel's receive timestamp (Linux's SO_TIMESTAMPNS,
// delivered with the data by recvmsg; see stampedConn). The delay guard
// takes the time from it to the handler as the request's wait: the
// whole of it, the socket's backlog the runtime's poller had not looked
// at included, which nothing inside the process can see otherwise.
//
// The stamp is the connection's, not the request's: it serves HTTP/1,
// where a connection carries one request at a time. A request pipelined
// behind another may be read, and stamped, with it, or have its stamp
// overwritten by net/http's background read of the next; clients do not
// pipeline, and a wait read short only admits.
//
// Written here because no library records it: net/http reads with
// read(2), which returns no timestamp.
type connStamp struct {
	at atomic.Int64 // UnixNano; 0: the last read brought none
}

// stamper is a connection that keeps a connStamp.
type stamper interface{ stamped() *connStamp }

type stampKey struct{}

// stampListener wraps the connections ln accepts so that each request's
// wait is known (see connStamp); where the system gives no receive
// timestamps it returns ln.
func stampListener(ln net.Listener) net.Listener {
	if !stampsSupported {
		return ln
	}
	return &stampingListener{ln}
}

type stampingListener struct{ net.Listener }

func (l *stampingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return stampConn(c), nil
}

// stampContext is an http.Server's ConnContext: it lets the handlers
// find a request's connection, to read its stamp, through wrappers that
// give theirs with NetConn (TLS).
func stampContext(ctx context.Context, c net.Conn) context.Context {
	for range 8 {
		if sc, ok := c.(stamper); ok {
			return context.WithValue(ctx, stampKey{}, sc.stamped())
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	return ctx
}

// requestWait is how long r waited between its data reaching the socket
// and now, and whether that is known.
func requestWait(r *http.Request, now time.Time) (time.Duration, bool) {
	sc, ok := r.Context().Value(stampKey{}).(*connStamp)
	if !ok {
		return 0, false
	}
	t := sc.at.Load()
	if t == 0 {
		return 0, false
	}
	// The stamp is the system's wall clock: a step of the clock between
	// the two readings could make the wait negative or huge. Such a
	// wait is no measure; a minute bounds what a real one can be.
	w := time.Duration(now.UnixNano() - t)
	if w < 0 || w > time.Minute {
		return 0, false
	}
	return w, true
}
