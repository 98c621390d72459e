package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"basalt.dev/basalt"
)

// Class is a class of routes a policy applies to.
type Class string

// The route classes. Every limited route is in one of signin, signup,
// auth, write or read; a policy's class auth covers signin and signup
// too, and all covers every class.
const (
	ClassSignin Class = "signin" // POST /api/auth/login
	ClassSignup Class = "signup" // POST /api/auth/signup
	ClassAuth   Class = "auth"   // sign-in, sign-up, refresh, password reset, unlock and verification
	ClassWrite  Class = "write"  // every other POST, PUT, PATCH and DELETE
	ClassRead   Class = "read"   // every other GET and HEAD, realtime streams as they open
	ClassAll    Class = "all"
)

// Classes lists the classes a policy may name.
var Classes = []Class{ClassAll, ClassAuth, ClassSignin, ClassSignup, ClassWrite, ClassRead}

// Covers reports whether a policy of class c applies to a route of class
// route.
func (c Class) Covers(route Class) bool {
	switch c {
	case ClassAll:
		return true
	case ClassAuth:
		return route == ClassAuth || route == ClassSignin || route == ClassSignup
	}
	return c == route
}

// By is what a policy counts requests by: each value has its own limit.
type By string

// What policies key on. A request without the value (an anonymous one
// for user, say) is not counted by the policy.
const (
	ByIP        By = "ip"        // the client address (an IPv6 client's /64)
	ByKey       By = "key"       // the API key
	ByUser      By = "user"      // the signed-in user
	ByTenant    By = "tenant"    // the tenant the key or user acts in
	ByPrincipal By = "principal" // the user or key, else the client address
	ByEmail     By = "email"     // the account e-mail of sign-in, sign-up and reset requests
)

// Bys lists what a policy may key on.
var Bys = []By{ByIP, ByKey, ByUser, ByTenant, ByPrincipal, ByEmail}

// Sources of policies.
const (
	SourceConfig = "config" // the --rate-limit option
	SourceAdmin  = "admin"  // stored through the admin API
)

// Policy is a named limit on a class of routes, counted by one value of
// each request.
type Policy struct {
	Name   string
	By     By
	Class  Class
	Limit  Limit
	Source string // SourceConfig or SourceAdmin
}

// Bounds of policies.
const (
	MaxNameLen = 40
	MaxQuota   = 1_000_000_000
	MaxWindow  = 31 * 24 * time.Hour
)

// Validate returns the policy's problems, one per field: name, by,
// class, quota, window, burst.
func (p *Policy) Validate() []basalt.FieldError {
	var errs []basalt.FieldError
	bad := func(field, code, format string, args ...any) {
		errs = append(errs, basalt.FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case p.Name == "":
		bad("name", "required", "name is required")
	case !validName(p.Name):
		bad("name", "invalid", "name must be 1 to %d of a-z, 0-9 and -, starting with a letter", MaxNameLen)
	}
	if !contains(Bys, p.By) {
		bad("by", "invalid", "by must be one of %s", list(Bys))
	}
	if !contains(Classes, p.Class) {
		bad("class", "invalid", "class must be one of %s", list(Classes))
	}
	if p.Limit.Quota < 1 || p.Limit.Quota > MaxQuota {
		bad("quota", "out_of_range", "quota must be 1 to %d requests", MaxQuota)
	}
	switch w := p.Limit.Window; {
	case w < time.Second || w > MaxWindow:
		bad("window", "out_of_range", "window must be 1s to %s", MaxWindow)
	case w%time.Second != 0:
		bad("window", "invalid", "window must be whole seconds")
	}
	if p.Limit.Burst < 1 || p.Limit.Burst > MaxQuota {
		bad("burst", "out_of_range", "burst must be 1 to %d requests", MaxQuota)
	}
	return errs
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func list[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// String returns the policy in the grammar ParsePolicy reads.
func (p Policy) String() string {
	return fmt.Sprintf("name=%s,by=%s,class=%s,limit=%d/%s,burst=%d", p.Name, p.By, p.Class, p.Limit.Quota, formatWindow(p.Limit.Window), p.Limit.Burst)
}

// formatWindow writes a window as its largest whole unit: 1m, 90s, 24h.
func formatWindow(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// ParsePolicy reads one policy from its spec: comma-separated key=value
// pairs,
//
//	name=api,by=ip,class=all,limit=600/1m,burst=100
//
// name and limit are required; by defaults to ip, class to all and burst
// to the quota. limit is quota/window, the window a duration (10s, 1m,
// 1h30m) or a bare unit (s, m, h) for one of it. Errors name the pair
// that is wrong.
func ParsePolicy(spec string) (Policy, error) {
	p := Policy{By: ByIP, Class: ClassAll, Source: SourceConfig}
	seen := map[string]bool{}
	burst := -1
	for _, pair := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return p, fmt.Errorf("%q is not key=value", strings.TrimSpace(pair))
		}
		if seen[k] {
			return p, fmt.Errorf("%s is given twice", k)
		}
		seen[k] = true
		switch k {
		case "name":
			p.Name = v
		case "by":
			p.By = By(v)
		case "class":
			p.Class = Class(v)
		case "limit":
			q, w, err := parseLimit(v)
			if err != nil {
				return p, fmt.Errorf("limit: %w", err)
			}
			p.Limit.Quota, p.Limit.Window = q, w
		case "burst":
			n, err := strconv.Atoi(v)
			if err != nil {
				return p, fmt.Errorf("burst: %q is not a whole number", v)
			}
			burst = n
		default:
			return p, fmt.Errorf("unknown key %q (known: name, by, class, limit, burst)", k)
		}
	}
	if !seen["limit"] {
		return p, errors.New("limit is required, such as limit=600/1m")
	}
	p.Limit.Burst = p.Limit.Quota
	if burst >= 0 {
		p.Limit.Burst = burst
	}
	if errs := p.Validate(); len(errs) > 0 {
		return p, errors.New(errs[0].Message)
	}
	return p, nil
}

// parseLimit reads quota/window.
func parseLimit(v string) (int, time.Duration, error) {
	qs, ws, ok := strings.Cut(v, "/")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not quota/window, such as 600/1m", v)
	}
	q, err := strconv.Atoi(qs)
	if err != nil {
		return 0, 0, fmt.Errorf("quota %q is not a whole number", qs)
	}
	if ws != "" && (ws[0] < '0' || ws[0] > '9') {
		ws = "1" + ws
	}
	w, err := time.ParseDuration(ws)
	if err != nil {
		return 0, 0, fmt.Errorf("window %q is not a duration such as 10s, 1m or 1h", ws)
	}
	return q, w, nil
}

// DefaultSpec holds the policies the word "default" stands for: sign-in
// limited strictly per client address and per account e-mail (against
// password guessing from one place and against one account from many),
// sign-up per client address.
const DefaultSpec = "name=signin-ip,by=ip,class=signin,limit=30/5m,burst=10;" +
	"name=signin-email,by=email,class=signin,limit=10/15m,burst=5;" +
	"name=signup-ip,by=ip,class=signup,limit=20/1h,burst=5"

// ParsePolicies reads policies separated by semicolons. The word default
// stands for the policies of DefaultSpec; "none" (or nothing) is no
// policy. Errors name the policy by its place and spec; two policies may
// not share a name.
func ParsePolicies(specs string) ([]Policy, error) {
	specs = strings.TrimSpace(specs)
	if specs == "" || specs == "none" {
		return nil, nil
	}
	var out []Policy
	names := map[string]bool{}
	for i, spec := range strings.Split(specs, ";") {
		spec = strings.TrimSpace(spec)
		ps := []string{spec}
		switch spec {
		case "":
			continue
		case "default":
			ps = strings.Split(DefaultSpec, ";")
		case "none":
			return nil, fmt.Errorf("policy %d: none stands alone; it cannot join other policies", i+1)
		}
		for _, spec := range ps {
			p, err := ParsePolicy(spec)
			if err != nil {
				return nil, fmt.Errorf("policy %d (%s): %w", i+1, spec, err)
			}
			if names[p.Name] {
				return nil, fmt.Errorf("policy %d (%s): another policy is named %s", i+1, spec, p.Name)
			}
			names[p.Name] = true
			out = append(out, p)
		}
	}
	return out, nil
}
