package api

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"basalt.dev/basalt"
)

// Forwarding headers a trusted proxy may set.
const (
	HeaderXForwardedFor = "x-forwarded-for"
	HeaderForwarded     = "forwarded" // RFC 7239
)

// trustProxies finds the client's address behind trusted proxies. Only
// when the peer is one of them is the forwarding header read, and only
// the one header the proxies write (the client can send the other one,
// and a proxy passes it through untouched). Of the addresses the header
// lists, the rightmost that is not a trusted proxy is the client: the
// ones left of it were written by the client and prove nothing. With no
// trusted proxies the peer is the client and h runs as it is.
func trustProxies(trusted []netip.Prefix, header string, h http.Handler) http.Handler {
	if len(trusted) == 0 {
		return h
	}
	if header == "" {
		header = HeaderXForwardedFor
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip, ok := forwardedClient(r, trusted, header); ok {
			r = r.WithContext(basalt.WithClientIP(r.Context(), ip))
		}
		h.ServeHTTP(w, r)
	})
}

// forwardedClient returns the client's address when the peer is a
// trusted proxy that says whom it forwards for.
func forwardedClient(r *http.Request, trusted []netip.Prefix, header string) (string, bool) {
	peer, ok := parseAddr(peerIP(r))
	if !ok || !isTrusted(peer, trusted) {
		return "", false
	}
	var hops []string
	for _, line := range r.Header.Values(header) {
		for _, elem := range strings.Split(line, ",") {
			if header == HeaderForwarded {
				elem = forwardedFor(elem)
			}
			hops = append(hops, strings.TrimSpace(elem))
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseAddr(hops[i])
		if !ok {
			break // unknown, obfuscated or garbled: the nearest proxy known is the client
		}
		client = a
		if !isTrusted(a, trusted) {
			break
		}
	}
	return client.String(), client != peer
}

// forwardedFor returns the for= value of one forwarded-element of RFC
// 7239 (for=192.0.2.60;proto=http;by=203.0.113.43), unquoted; "" if none.
func forwardedFor(elem string) string {
	for _, pair := range strings.Split(elem, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// parseAddr reads an address as forwarding headers write it: bare, or
// with a port, IPv6 in brackets.
func parseAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerIP is the address of the connection's other end.
func peerIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}

// ParseTrustedProxies reads a comma-separated list of CIDR prefixes or
// single addresses.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
