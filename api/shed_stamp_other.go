//go:build !linux

package api

import "net"

const stampsSupported = false

func stampConn(c net.Conn) net.Conn { return c }
