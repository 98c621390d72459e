package auth

import (
	"context"
	"testing"

	"basalt.dev/basalt/internal/cputime"
)

// BenchmarkVerifyAccessToken measures the check of a request's access
// token: warm, a token verified before and so found in the cache; cold, a
// token seen for the first time, which costs an Ed25519 verification (the
// benchmark drops it from the cache after each check).
func BenchmarkVerifyAccessToken(b *testing.B) {
	s := newTestSigner(b)
	token := s.issue(b)
	b.Run("warm", func(b *testing.B) {
		if _, err := s.tokens.Verify(token); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		stop := cputime.Report(b)
		for b.Loop() {
			if _, err := s.tokens.Verify(token); err != nil {
				b.Fatal(err)
			}
		}
		stop()
	})
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		stop := cputime.Report(b)
		for b.Loop() {
			if _, err := s.tokens.Verify(token); err != nil {
				b.Fatal(err)
			}
			s.tokens.verified.Invalidate(token)
		}
		stop()
	})
}

// BenchmarkAPIKey measures the check of a request's API key whose record
// is cached: a SHA-256 of the secret and a constant-time comparison.
func BenchmarkAPIKey(b *testing.B) {
	keys, live, _, _ := testKeys(b)
	ctx := context.Background()
	if _, err := keys.Authenticate(ctx, live); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	stop := cputime.Report(b)
	for b.Loop() {
		if _, err := keys.Authenticate(ctx, live); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}
