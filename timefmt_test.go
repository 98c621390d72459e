package basalt

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestTimeFormatRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		tm := time.Unix(rng.Int64N(253402300799)-62135596800, rng.Int64N(1e9)).UTC().Truncate(time.Microsecond)
		want := tm.Format(TimeLayout)
		if got := string(AppendTime(nil, tm)); got != want {
			t.Fatalf("AppendTime(%v) = %s, want %s", tm, got, want)
		}
		back, err := ParseStoredTime(want)
		if err != nil || !back.Equal(tm) {
			t.Fatalf("ParseStoredTime(%s) = %v, %v; want %v", want, back, err, tm)
		}
	}
	for _, bad := range []string{"", "2024-13-01T00:00:00.000000Z", "2024-01-01T00:00:00.00000aZ", "2024-01-01 00:00:00.000000Z"} {
		if _, err := ParseStoredTime(bad); err == nil {
			t.Errorf("ParseStoredTime(%q) succeeded", bad)
		}
	}
}

func BenchmarkAppendTime(b *testing.B) {
	tm := time.Date(2026, 11, 29, 1, 2, 3, 456789000, time.UTC)
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = AppendTime(buf[:0], tm)
	}
}
