package main_test

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the responses shown in docs/guide-tenants.md from a run")

const guidePath = "../../docs/guide-tenants.md"

// guideStep is one shell block of the guide and the output block shown
// right after it, if any.
type guideStep struct {
	code string
	out  *fence // nil: the block prints nothing
}

// TestGuideTenants runs every shell block of docs/guide-tenants.md in
// order, in one shell, against a fresh server (see docShell), and checks
// that each block prints exactly the output the guide shows after it:
// every status, field and error message. Values that differ from run to
// run are compared by their pattern of equality: ids, keys and tokens are
// renamed in order of appearance (so the owner of a record must still be
// the id of the user who made it), times and request ids are blanked.
//
// The block that starts the server is not run; the test starts its own.
//
// After a deliberate change of the API, rewrite the shown responses from
// a run and read the diff:
//
//	go test ./cmd/basalt -run TestGuideTenants -update
func TestGuideTenants(t *testing.T) {
	data, err := os.ReadFile(guidePath)
	if err != nil {
		t.Fatal(err)
	}
	md := string(data)
	var steps []guideStep
	fs := fences(md)
	for i, f := range fs {
		if f.lang != "sh" || strings.Contains(f.body, "basalt serve") {
			continue
		}
		st := guideStep{code: f.body}
		if i+1 < len(fs) && fs[i+1].adjacent && fs[i+1].lang != "sh" {
			st.out = &fs[i+1]
		}
		steps = append(steps, st)
	}
	if len(steps) < 10 {
		t.Fatalf("the guide has %d shell blocks to run; the parser or the guide is broken", len(steps))
	}

	d := newDocShell(t)
	var script strings.Builder
	for i, st := range steps {
		fmt.Fprintf(&script, "echo '@@@ guide block %d @@@'\n%s", i, st.code)
	}
	out, runErr := d.run(script.String())
	out = strings.ReplaceAll(out, d.host, "127.0.0.1:8090")
	got := splitBlocks(out, len(steps))
	if runErr != nil {
		last := len(steps) - 1
		for last > 0 && got[last] == "" {
			last--
		}
		t.Fatalf("the guide's commands failed (%v) in this block:\n%s\nIt printed:\n%s", runErr, steps[last].code, got[last])
	}

	if *update {
		var b strings.Builder
		at := 0
		for i, st := range steps {
			if st.out == nil {
				if got[i] != "" {
					t.Errorf("this block prints output, but the guide shows no output block after it:\n%s\nIt printed:\n%s", st.code, got[i])
				}
				continue
			}
			b.WriteString(md[at:st.out.start])
			b.WriteString(got[i])
			at = st.out.end
		}
		b.WriteString(md[at:])
		if err := os.WriteFile(guidePath, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}

	want, have := newNormalizer(), newNormalizer()
	bad := 0
	for i, st := range steps {
		shown := ""
		if st.out != nil {
			shown = st.out.body
		}
		w, g := want.apply(shown), have.apply(got[i])
		if w == g {
			continue
		}
		if bad++; bad > 3 {
			t.Errorf("... and more blocks differ")
			break
		}
		if st.out == nil {
			t.Errorf("this block prints output, but the guide shows no output block after it:\n%s\nIt printed:\n%s", st.code, got[i])
			continue
		}
		t.Errorf("this block prints other than the guide shows:\n%s\nThe guide shows (normalized):\n%s\nThe run printed (normalized):\n%s", st.code, w, g)
	}
	if bad > 0 {
		t.Log("If the API changed on purpose: go test ./cmd/basalt -run TestGuideTenants -update, then review the diff of docs/guide-tenants.md.")
	}
}

// splitBlocks splits the output of the guide's script at the markers
// echoed before each block.
func splitBlocks(out string, n int) []string {
	got := make([]string, n)
	marker := regexp.MustCompile(`(?m)^@@@ guide block (\d+) @@@\n`)
	ms := marker.FindAllStringSubmatchIndex(out, -1)
	for j, m := range ms {
		i, _ := strconv.Atoi(out[m[2]:m[3]])
		end := len(out)
		if j+1 < len(ms) {
			end = ms[j+1][0]
		}
		if i < n {
			got[i] = out[m[1]:end]
		}
	}
	return got
}

// normalizer replaces the values that differ from run to run. Ids,
// API keys and key ids are numbered in order of first appearance, so the
// same value gets the same name throughout one run.
type normalizer struct {
	names map[string]string
	count map[string]int
}

func newNormalizer() *normalizer {
	return &normalizer{names: map[string]string{}, count: map[string]int{}}
}

func (n *normalizer) name(kind, v string) string {
	if s, ok := n.names[v]; ok {
		return s
	}
	n.count[kind]++
	s := fmt.Sprintf("<%s %d>", kind, n.count[kind])
	n.names[v] = s
	return s
}

var (
	jwtRE       = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)
	apiKeyRE    = regexp.MustCompile(`bsk_([a-z2-7]{16})_[a-z2-7]+`)
	keyIDRE     = regexp.MustCompile(`"id":"([a-z2-7]{16})"`)
	secretRE    = regexp.MustCompile(`\bbs([rie])_[a-z2-7]+`)
	ulidRE      = regexp.MustCompile(`\b0[0-9a-hjkmnp-tv-z]{25}\b`)
	timeRE      = regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	requestIDRE = regexp.MustCompile(`"request_id":"[^"]*"`)
)

func (n *normalizer) apply(s string) string {
	s = jwtRE.ReplaceAllString(s, "<access token>")
	for _, m := range apiKeyRE.FindAllStringSubmatch(s, -1) {
		n.name("key", m[1])
	}
	for _, m := range keyIDRE.FindAllStringSubmatch(s, -1) {
		n.name("key", m[1])
	}
	s = apiKeyRE.ReplaceAllStringFunc(s, func(k string) string {
		return "bsk_" + n.name("key", k[4:20]) + "_<secret>"
	})
	for v, name := range n.names {
		if strings.HasPrefix(name, "<key ") {
			s = strings.ReplaceAll(s, v, name)
		}
	}
	s = secretRE.ReplaceAllString(s, "bs${1}_<secret>")
	s = ulidRE.ReplaceAllStringFunc(s, func(id string) string { return n.name("id", id) })
	s = timeRE.ReplaceAllString(s, "<time>")
	s = requestIDRE.ReplaceAllString(s, `"request_id":"<request id>"`)
	return s
}
