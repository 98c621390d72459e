package auth_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/auth"
	"basalt.dev/basalt/internal/cputime"
	"basalt.dev/basalt/mail"
	"basalt.dev/basalt/mail/mailtest"
	"basalt.dev/basalt/store/sqlite"
	"github.com/golang-jwt/jwt/v5"
	"github.com/pquerna/otp/totp"
)

// clock is a settable time for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type mailer struct{ s *mail.SMTP }

func (m mailer) Send(ctx context.Context, to, subject, text string) error {
	return m.s.Send(ctx, mail.Message{To: to, Subject: subject, Text: text})
}

type bundle struct {
	users  *auth.Users
	tokens *auth.Tokens
	clock  *clock
	smtp   *mailtest.Server
	db     *sqlite.DB
}

var cheap = auth.PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func setup(t testing.TB) *bundle {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	box, _ := auth.NewSecretBox(make([]byte, 32))
	tokens := auth.NewTokens(db, box, "basalt", c.now)
	if err := tokens.Load(ctx); err != nil {
		t.Fatal(err)
	}
	srv := mailtest.Start(t)
	sender, err := mail.NewSMTP(mail.SMTPConfig{URL: srv.URL(), From: "basalt@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	users, err := auth.NewUsers(db, tokens, box, mailer{sender}, auth.UsersConfig{
		SignupTenant: basalt.DefaultTenant, PublicURL: "http://basalt.test", Issuer: "Basalt", Password: cheap,
	}, c.now, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{users: users, tokens: tokens, clock: c, smtp: srv, db: db}
}

var meta = auth.Meta{IP: "192.0.2.1", UserAgent: "test"}

func (b *bundle) signup(t *testing.T, email, password string) *auth.TokenPair {
	t.Helper()
	pair, err := b.users.Signup(context.Background(), auth.SignupInput{Email: email, Password: password, Name: "Ada"}, meta)
	if err != nil {
		t.Fatalf("Signup(%s) = %v", email, err)
	}
	return pair
}

func errCode(t *testing.T, err error) basalt.Code {
	t.Helper()
	return basalt.ErrorCode(err)
}

// link returns the token of the first link in a mail.
func link(t *testing.T, text string) (path, token string) {
	t.Helper()
	m := regexp.MustCompile(`http://basalt\.test(/\S+)\?token=(\S+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no link in mail:\n%s", text)
	}
	return m[1], m[2]
}

func TestSignupLoginRefreshLogout(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	pair := b.signup(t, "Ada@Example.com", "correct horse battery")
	if pair.User.Email != "ada@example.com" || pair.Tenant != basalt.DefaultTenant || pair.Role != auth.RoleMember || pair.TokenType != "Bearer" || pair.ExpiresIn != 900 {
		t.Errorf("Signup() = %+v", pair)
	}
	_, err := b.users.Signup(ctx, auth.SignupInput{Email: "ada@example.com", Password: "another fine password"}, meta)
	if errCode(t, err) != basalt.CodeConflict {
		t.Errorf("second Signup with the same email = %v, want conflict", err)
	}
	for _, pw := range []string{"short", "password123", "Robert-1234567"} {
		if _, err := b.users.Signup(ctx, auth.SignupInput{Email: "robert@example.com", Password: pw}, meta); errCode(t, err) != basalt.CodeValidation {
			t.Errorf("Signup with password %q = %v, want a validation error", pw, err)
		}
	}
	p, err := b.users.Authenticate(ctx, pair.AccessToken)
	if err != nil || p.ID != pair.User.ID || p.TenantID != basalt.DefaultTenant || p.Kind != "user" {
		t.Fatalf("Authenticate(access token) = %+v, %v", p, err)
	}
	next, err := b.users.Refresh(ctx, pair.RefreshToken, meta)
	if err != nil || next.RefreshToken == pair.RefreshToken {
		t.Fatalf("Refresh() = %+v, %v", next, err)
	}
	login, err := b.users.Login(ctx, auth.LoginInput{Email: "ADA@example.com", Password: "correct horse battery"}, meta)
	if err != nil {
		t.Fatalf("Login() = %v", err)
	}
	lp, _ := b.users.Authenticate(ctx, login.AccessToken)
	sessions, _ := b.users.Sessions(ctx, lp)
	if len(sessions) != 2 {
		t.Errorf("Sessions() = %d, want 2", len(sessions))
	}
	if err := b.users.Logout(ctx, lp, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := b.users.Authenticate(ctx, login.AccessToken); errCode(t, err) != basalt.CodeUnauthenticated {
		t.Errorf("access token after logout = %v, want unauthenticated", err)
	}
	if _, err := b.users.Refresh(ctx, login.RefreshToken, meta); errCode(t, err) != basalt.CodeUnauthenticated {
		t.Errorf("refresh after logout = %v, want unauthenticated", err)
	}
}

func TestRefreshReuseRevokesTheSession(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	pair := b.signup(t, "ada@example.com", "correct horse battery")
	next, err := b.users.Refresh(ctx, pair.RefreshToken, meta)
	if err != nil {
		t.Fatal(err)
	}
	// A thief replays the first token: the whole family dies, the
	// legitimate holder's newer token too.
	if _, err := b.users.Refresh(ctx, pair.RefreshToken, meta); errCode(t, err) != basalt.CodeUnauthenticated {
		t.Fatalf("reused refresh token = %v, want unauthenticated", err)
	}
	if _, err := b.users.Refresh(ctx, next.RefreshToken, meta); errCode(t, err) != basalt.CodeUnauthenticated {
		t.Errorf("newest token of a revoked family = %v, want unauthenticated", err)
	}
}

func TestLoginDoesNotRevealAccounts(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.signup(t, "ada@example.com", "correct horse battery")
	_, wrong := b.users.Login(ctx, auth.LoginInput{Email: "ada@example.com", Password: "wrong password!"}, meta)
	_, unknown := b.users.Login(ctx, auth.LoginInput{Email: "nobody@example.com", Password: "wrong password!"}, meta)
	if wrong == nil || unknown == nil || wrong.Error() != unknown.Error() {
		t.Errorf("wrong password = %v; unknown account = %v; want the same error", wrong, unknown)
	}
}

func TestThrottleAndUnlockByMail(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.signup(t, "ada@example.com", "correct horse battery")
	bad := auth.LoginInput{Email: "ada@example.com", Password: "wrong password!"}
	for range 3 {
		b.users.Login(ctx, bad, meta)
	}
	_, err := b.users.Login(ctx, bad, meta)
	var ra *auth.RetryAfterError
	if !errors.As(err, &ra) || errCode(t, err) != basalt.CodeRateLimited || ra.Seconds() != "1" {
		t.Fatalf("4th attempt at once = %v, want 429 with Retry-After 1", err)
	}
	// The same for an account that does not exist.
	for range 3 {
		b.users.Login(ctx, auth.LoginInput{Email: "ghost@example.com", Password: "x"}, meta)
	}
	if _, err := b.users.Login(ctx, auth.LoginInput{Email: "ghost@example.com", Password: "x"}, meta); errCode(t, err) != basalt.CodeRateLimited {
		t.Errorf("unknown account after 3 failures = %v, want rate_limited too", err)
	}
	// The delays double; at 10 failures the account locks and mail comes.
	for f := 3; f < 10; f++ {
		b.clock.add(time.Second << (f - 3))
		if _, err := b.users.Login(ctx, bad, meta); errCode(t, err) != basalt.CodeUnauthenticated {
			t.Fatalf("failure %d after waiting = %v, want unauthenticated", f+1, err)
		}
	}
	b.clock.add(20 * time.Minute)
	good := auth.LoginInput{Email: "ada@example.com", Password: "correct horse battery"}
	if _, err := b.users.Login(ctx, good, meta); errCode(t, err) != basalt.CodeRateLimited {
		t.Fatalf("login while locked = %v, want rate_limited", err)
	}
	b.smtp.Wait(t, "ada@example.com", 5*time.Second) // the verification mail
	m := b.smtp.Wait(t, "ada@example.com", 5*time.Second)
	path, token := link(t, m.Text)
	if path != "/api/auth/unlock" {
		t.Fatalf("unlock mail links to %s", path)
	}
	if err := b.users.Unlock(ctx, token); err != nil {
		t.Fatalf("Unlock() = %v", err)
	}
	if _, err := b.users.Login(ctx, good, meta); err != nil {
		t.Errorf("login after unlock = %v", err)
	}
	if err := b.users.Unlock(ctx, token); errCode(t, err) != basalt.CodeNotFound {
		t.Errorf("unlock link used twice = %v, want not_found", err)
	}
}

func TestVerifyAndResetByMail(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	pair := b.signup(t, "ada@example.com", "correct horse battery")
	m := b.smtp.Wait(t, "ada@example.com", 5*time.Second)
	path, token := link(t, m.Text)
	if path != "/api/auth/verify" || !strings.Contains(m.Subject, "Confirm") {
		t.Fatalf("verification mail = %+v", m)
	}
	if err := b.users.Verify(ctx, token, meta); err != nil {
		t.Fatal(err)
	}
	p, _ := b.users.Authenticate(ctx, pair.AccessToken)
	if me, _ := b.users.Me(ctx, p); !me.Verified {
		t.Error("after following the link the address is not verified")
	}
	if err := b.users.RequestReset(ctx, "nobody@example.com"); err != nil {
		t.Errorf("RequestReset(unknown) = %v, want no error (nothing revealed)", err)
	}
	if err := b.users.RequestReset(ctx, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	_, reset := link(t, b.smtp.Wait(t, "ada@example.com", 5*time.Second).Text)
	if err := b.users.Reset(ctx, reset, "new battery staple horse", meta); err != nil {
		t.Fatalf("Reset() = %v", err)
	}
	if _, err := b.users.Refresh(ctx, pair.RefreshToken, meta); errCode(t, err) != basalt.CodeUnauthenticated {
		t.Errorf("old session after a reset = %v, want revoked", err)
	}
	if _, err := b.users.Authenticate(ctx, pair.AccessToken); errCode(t, err) != basalt.CodeUnauthenticated {
		t.Errorf("old access token after a reset = %v, want refused", err)
	}
	if _, err := b.users.Login(ctx, auth.LoginInput{Email: "ada@example.com", Password: "new battery staple horse"}, meta); err != nil {
		t.Errorf("login with the new password = %v", err)
	}
	if for2 := b.users.Reset(ctx, reset, "yet another new pass", meta); errCode(t, for2) != basalt.CodeNotFound {
		t.Errorf("reset link used twice = %v, want not_found", for2)
	}
}

func TestSecondFactor(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	pair := b.signup(t, "ada@example.com", "correct horse battery")
	p, _ := b.users.Authenticate(ctx, pair.AccessToken)
	setupInfo, err := b.users.SetupTOTP(ctx, p)
	if err != nil || !strings.HasPrefix(setupInfo.URL, "otpauth://totp/") {
		t.Fatalf("SetupTOTP() = %+v, %v", setupInfo, err)
	}
	if _, err := b.users.EnableTOTP(ctx, p, "000000", meta); errCode(t, err) != basalt.CodeValidation {
		t.Errorf("EnableTOTP(wrong) = %v", err)
	}
	current, _ := totp.GenerateCode(setupInfo.Secret, b.clock.now())
	codes, err := b.users.EnableTOTP(ctx, p, current, meta)
	if err != nil || len(codes) != 10 {
		t.Fatalf("EnableTOTP() = %v, %v", codes, err)
	}
	in := auth.LoginInput{Email: "ada@example.com", Password: "correct horse battery"}
	if _, err := b.users.Login(ctx, in, meta); errCode(t, err) != basalt.CodeUnauthenticated || !strings.Contains(err.Error(), "second factor") {
		t.Errorf("login without the code = %v, want a request for it", err)
	}
	in.TOTP, _ = totp.GenerateCode(setupInfo.Secret, b.clock.now())
	if _, err := b.users.Login(ctx, in, meta); err != nil {
		t.Errorf("login with the code = %v", err)
	}
	in.TOTP = codes[3]
	if _, err := b.users.Login(ctx, in, meta); err != nil {
		t.Errorf("login with a recovery code = %v", err)
	}
	if _, err := b.users.Login(ctx, in, meta); errCode(t, err) != basalt.CodeUnauthenticated {
		t.Errorf("a recovery code used twice = %v, want refused", err)
	}
}

func TestTokenVerification(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	pair := b.signup(t, "ada@example.com", "correct horse battery")
	parts := strings.Split(pair.AccessToken, ".")
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": pair.User.ID, "sid": "x", "iss": "basalt", "aud": "basalt", "exp": b.clock.now().Add(time.Hour).Unix()})
	noneToken, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": pair.User.ID, "sid": "x", "iss": "basalt", "aud": "basalt", "exp": b.clock.now().Add(time.Hour).Unix()})
	hsToken, _ := hs.SignedString([]byte("guess"))
	for name, tok := range map[string]string{
		"alg none":           noneToken,
		"HS256":              hsToken,
		"tampered payload":   parts[0] + "." + parts[1] + "x." + parts[2],
		"tampered signature": parts[0] + "." + parts[1] + "." + flipFirst(parts[2]),
		"garbage":            "not.a.token",
	} {
		if _, err := b.users.Authenticate(ctx, tok); errCode(t, err) != basalt.CodeUnauthenticated {
			t.Errorf("%s: Authenticate = %v, want unauthenticated", name, err)
		}
	}
	b.clock.add(16 * time.Minute)
	if _, err := b.users.Authenticate(ctx, pair.AccessToken); errCode(t, err) != basalt.CodeUnauthenticated {
		t.Errorf("expired token = %v, want unauthenticated", err)
	}
}

func TestSigningKeysRotate(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.tokens.Rotate = 24 * time.Hour
	pair := b.signup(t, "ada@example.com", "correct horse battery")
	before := string(b.tokens.JWKS())
	b.clock.add(b.tokens.Rotate + time.Minute)
	if err := b.tokens.Load(ctx); err != nil {
		t.Fatal(err)
	}
	after := string(b.tokens.JWKS())
	if strings.Count(after, `"kid"`) != 2 || !strings.Contains(after, before[len(`{"keys":[`):len(before)-2]) {
		t.Errorf("after rotation JWKS = %s; want the old key and a new one", after)
	}
	next, err := b.users.Refresh(ctx, pair.RefreshToken, meta)
	if err != nil {
		t.Fatal(err)
	}
	if next.AccessToken == "" || strings.Split(next.AccessToken, ".")[0] == strings.Split(pair.AccessToken, ".")[0] {
		t.Error("a token issued after rotation has the old key id")
	}
}

// flipFirst changes the first character of a base64url segment to a different
// one, so the decoded bytes differ whatever the segment held.
func flipFirst(s string) string {
	c := byte('A')
	if s[0] == 'A' {
		c = 'B'
	}
	return string(c) + s[1:]
}

// FuzzRefreshToken checks that Refresh, given any string, never panics,
// refuses everything but the live refresh token as unauthenticated, and
// that a refused guess leaves the session live: only the reuse of a spent
// token ends it.
func FuzzRefreshToken(f *testing.F) {
	b := setup(f)
	ctx := context.Background()
	pair, err := b.users.Signup(ctx, auth.SignupInput{Email: "ada@example.com", Password: "correct horse battery"}, meta)
	if err != nil {
		f.Fatal(err)
	}
	live := pair.RefreshToken
	for _, seed := range []string{
		live, live[:len(live)-1], live + "a", strings.ToUpper(live), "bse_" + live[4:], "bsk_" + live[4:], " " + live,
		"", "bsr_", "bsr_" + strings.Repeat("a", 52), "bsr_" + strings.Repeat("a", 196), "bsr_\x00", "bsr_' OR 1=1 --",
	} {
		f.Add(seed)
	}
	spent := map[string]bool{}
	f.Fuzz(func(t *testing.T, token string) {
		next, err := b.users.Refresh(ctx, token, meta)
		switch {
		case token == live:
			if err != nil {
				t.Fatalf("Refresh(live token) = %v", err)
			}
			spent[live], live, pair = true, next.RefreshToken, next
			return
		case err == nil:
			t.Fatalf("Refresh(%q) = %+v; only %q may refresh", token, next, live)
		case errCode(t, err) != basalt.CodeUnauthenticated:
			t.Fatalf("Refresh(%q) error = %v, want unauthenticated", token, err)
		case spent[token]:
			// Reuse revoked the session, as it must: sign in again.
			if pair, err = b.users.Login(ctx, auth.LoginInput{Email: "ada@example.com", Password: "correct horse battery"}, meta); err != nil {
				t.Fatal(err)
			}
			live = pair.RefreshToken
			return
		}
		p, err := b.users.Authenticate(ctx, pair.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if s, err := b.db.SessionGet(ctx, p.Session); err != nil || !s.Revoked.IsZero() {
			t.Fatalf("after Refresh(%q), the session is %+v, %v; want it live", token, s, err)
		}
	})
}

// BenchmarkLogin measures a sign-in with the default argon2id parameters:
// the throttle checks, the password check, the new session and its tokens,
// each write synced to disk as the server does.
func BenchmarkLogin(b *testing.B) {
	bundle := setup(b)
	ctx := context.Background()
	box, _ := auth.NewSecretBox(make([]byte, 32))
	users, err := auth.NewUsers(bundle.db, bundle.tokens, box, nil, auth.UsersConfig{SignupTenant: basalt.DefaultTenant,
		Password: auth.DefaultPasswordParams()}, bundle.clock.now, nil)
	if err != nil {
		b.Fatal(err)
	}
	in := auth.SignupInput{Email: "ada@example.com", Password: "correct horse battery"}
	if _, err := users.Signup(ctx, in, meta); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	stop := cputime.Report(b)
	for b.Loop() {
		if _, err := users.Login(ctx, auth.LoginInput{Email: in.Email, Password: in.Password}, meta); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}
