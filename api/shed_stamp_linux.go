//go:build linux && !386 && !s390x

package api

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const stampsSupported = true

// stampConn turns on receive timestamps for c, a TCP connection, and
// returns it reading them; any other connection, or one the system
// refuses them for, is returned as it is.
func stampConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return c
	}
	sc := &stampedConn{TCPConn: tc, raw: raw}
	sc.recv = sc.recvmsg
	return sc
}

// stampedConn is a TCP connection that reads with recvmsg to receive the
// timestamp of its data (see connStamp). Every other method is the TCP
// connection's own (ReadFrom for sendfile, CloseWrite, which net/http
// looks for, and the rest for code that takes the connection over).
type stampedConn struct {
	*net.TCPConn
	stamp connStamp
	raw   syscall.RawConn

	// One Read at a time, its state here rather than in a closure,
	// which would cost allocations on every read.
	mu   sync.Mutex
	msg  unix.Msghdr
	iov  unix.Iovec
	oob  [64]byte
	n    int
	err  error
	recv func(fd uintptr) bool // c.recvmsg, bound once
}

func (c *stampedConn) stamped() *connStamp { return &c.stamp }

// oobSize holds one SCM_TIMESTAMPNS message.
var oobSize = unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{})))

// recvmsg reads as c.msg says and reports whether to stop: false (the
// socket has nothing yet) waits for the poller to say it has. It calls
// recvmsg itself: unix.Recvmsg allocates a socket address on every call
// for the sender, which a connected socket does not give.
func (c *stampedConn) recvmsg(fd uintptr) bool {
	for {
		c.msg.SetControllen(oobSize)
		n, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&c.msg)), 0)
		c.n, c.err = int(n), nil
		if errno != 0 {
			c.n, c.err = 0, errno
		}
		if errno != unix.EINTR {
			return errno != unix.EAGAIN
		}
	}
}

func (c *stampedConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.iov.Base = &p[0]
	c.iov.SetLen(len(p))
	c.msg.Iov = &c.iov
	c.msg.SetIovlen(1)
	c.msg.Control = &c.oob[0]
	err := c.raw.Read(c.recv)
	c.iov.Base = nil // p is the caller's again
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err // RawConn's "raw-read", which this read stands for
	}
	if err == nil && c.err != nil {
		err = os.NewSyscallError("recvmsg", c.err)
	}
	if err != nil {
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	if c.n == 0 {
		return 0, io.EOF
	}
	c.record(c.oob[:c.msg.Controllen])
	return c.n, nil
}

// record keeps the timestamp the control messages b carry, or 0 if they
// carry none: the system stamps packets only once timestamps are on for
// some socket, and turns them on a moment after the first asks, so the
// first data of a process's first connections may come without.
func (c *stampedConn) record(b []byte) {
	var stamp int64
	for len(b) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(b)
		if err != nil {
			break
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			stamp = (*unix.Timespec)(unsafe.Pointer(&data[0])).Nano()
		}
		b = rest
	}
	c.stamp.at.Store(stamp)
}
