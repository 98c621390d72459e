package ratelimit

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParsePolicy(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		spec string
		want Policy
	}{
		{"name=api,by=ip,class=all,limit=600/1m,burst=100", Policy{Name: "api", By: ByIP, Class: ClassAll, Limit: Limit{600, time.Minute, 100}}},
		{"name=signin-email, by=email, class=signin, limit=10/15m, burst=5", Policy{Name: "signin-email", By: ByEmail, Class: ClassSignin, Limit: Limit{10, 15 * time.Minute, 5}}},
		{"limit=100/h,name=t1", Policy{Name: "t1", By: ByIP, Class: ClassAll, Limit: Limit{100, time.Hour, 100}}},
		{"name=w,by=tenant,class=write,limit=5/s,burst=1", Policy{Name: "w", By: ByTenant, Class: ClassWrite, Limit: Limit{5, time.Second, 1}}},
		{"name=day,by=key,class=read,limit=10000/24h", Policy{Name: "day", By: ByKey, Class: ClassRead, Limit: Limit{10000, 24 * time.Hour, 10000}}},
	} {
		tt.want.Source = SourceConfig
		got, err := ParsePolicy(tt.spec)
		if err != nil {
			t.Errorf("ParsePolicy(%q) = %v", tt.spec, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParsePolicy(%q) mismatch (-want +got):\n%s", tt.spec, diff)
		}
		again, err := ParsePolicy(got.String())
		if err != nil || again != got {
			t.Errorf("ParsePolicy(%q.String() = %q) = %+v, %v; want the same policy", tt.spec, got.String(), again, err)
		}
	}
}

func TestParsePolicyError(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ spec, want string }{
		{"name=api", "limit is required, such as limit=600/1m"},
		{"name=api,limit=600", `limit: "600" is not quota/window, such as 600/1m`},
		{"name=api,limit=x/1m", `limit: quota "x" is not a whole number`},
		{"name=api,limit=6/1y", `limit: window "1y" is not a duration such as 10s, 1m or 1h`},
		{"name=api,limit=6/500ms", "window must be 1s to 744h0m0s"},
		{"name=api,limit=6/1500ms", "window must be whole seconds"},
		{"name=api,limit=0/1m", "quota must be 1 to 1000000000 requests"},
		{"name=api,limit=6/1m,burst=0", "burst must be 1 to 1000000000 requests"},
		{"name=api,limit=6/1m,burst=many", `burst: "many" is not a whole number`},
		{"name=api,limit=6/1m,by=cookie", "by must be one of ip, key, user, tenant, principal, email"},
		{"name=api,limit=6/1m,class=admin", "class must be one of all, auth, signin, signup, write, read"},
		{"name=API,limit=6/1m", "name must be 1 to 40 of a-z, 0-9 and -, starting with a letter"},
		{"limit=6/1m", "name is required"},
		{"name=api,limit=6/1m,bursts=3", `unknown key "bursts" (known: name, by, class, limit, burst)`},
		{"name=api,limit=6/1m,name=b", "name is given twice"},
		{"name=api,,limit=6/1m", `"" is not key=value`},
		{"name=api,limit=6/1m,by", `"by" is not key=value`},
	} {
		_, err := ParsePolicy(tt.spec)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParsePolicy(%q) = %v, want %q", tt.spec, err, tt.want)
		}
	}
}

func TestParsePolicies(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"", "none", " ; "} {
		if ps, err := ParsePolicies(spec); err != nil || len(ps) != 0 {
			t.Errorf("ParsePolicies(%q) = %v, %v; want none", spec, ps, err)
		}
	}
	ps, err := ParsePolicies("name=a,limit=1/s; name=b,limit=2/m;")
	if err != nil || len(ps) != 2 || ps[0].Name != "a" || ps[1].Name != "b" {
		t.Fatalf("ParsePolicies(two) = %+v, %v", ps, err)
	}
	ps, err = ParsePolicies("default; name=api,limit=600/1m")
	if err != nil || len(ps) != 4 || ps[0].Name != "signin-ip" || ps[1].By != ByEmail || ps[3].Name != "api" {
		t.Fatalf("ParsePolicies(default and one) = %+v, %v", ps, err)
	}
	for _, tt := range []struct{ spec, want string }{
		{"name=a,limit=1/s;name=a,limit=2/s", "policy 2 (name=a,limit=2/s): another policy is named a"},
		{"default;name=signup-ip,limit=2/s", "policy 2 (name=signup-ip,limit=2/s): another policy is named signup-ip"},
		{"name=a,limit=1/s;none", "policy 2: none stands alone; it cannot join other policies"},
		{"name=a,limit=1/s;name=b", "policy 2 (name=b): limit is required, such as limit=600/1m"},
	} {
		if _, err := ParsePolicies(tt.spec); err == nil || err.Error() != tt.want {
			t.Errorf("ParsePolicies(%q) = %v, want %q", tt.spec, err, tt.want)
		}
	}
}

func TestClassCovers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		policy, route Class
		want          bool
	}{
		{ClassAll, ClassSignin, true}, {ClassAll, ClassRead, true},
		{ClassAuth, ClassSignin, true}, {ClassAuth, ClassSignup, true}, {ClassAuth, ClassAuth, true}, {ClassAuth, ClassWrite, false},
		{ClassSignin, ClassSignin, true}, {ClassSignin, ClassSignup, false}, {ClassSignin, ClassAuth, false},
		{ClassWrite, ClassWrite, true}, {ClassWrite, ClassSignin, false}, {ClassRead, ClassWrite, false},
	} {
		if got := tt.policy.Covers(tt.route); got != tt.want {
			t.Errorf("Class(%s).Covers(%s) = %v, want %v", tt.policy, tt.route, got, tt.want)
		}
	}
}
