package api_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt/api/apitest"
	"basalt.dev/basalt/auth"
	"github.com/golang-jwt/jwt/v5"
)

// The accounts' flows through HTTP on both drivers. What needs mail
// (verification, reset, unlock) is covered by auth/users_test.go. Every
// sign-up and sign-in hashes with argon2id, so each test makes few users.

const (
	authPassword    = "correct horse battery"
	authNewPassword = "staple in the engine room"
)

// tokenPair is the body of a sign-up, sign-in, refresh or switch.
type tokenPair struct {
	User struct {
		ID          string    `json:"id"`
		Email       string    `json:"email"`
		Name        string    `json:"name"`
		Verified    bool      `json:"verified"`
		TOTPEnabled bool      `json:"totp_enabled"`
		Created     time.Time `json:"created"`
	} `json:"user"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Tenant       string `json:"tenant"`
	Role         string `json:"role"`
}

func decodeBody[T any](t *testing.T, r *apitest.Response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return v
}

// mustSignup creates an account with authPassword and returns its tokens.
func mustSignup(t *testing.T, s *apitest.Server, email string) tokenPair {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/signup", Body: map[string]any{"email": email, "password": authPassword}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/auth/signup %s = %d, want 201: %s", email, resp.StatusCode, resp.Body)
	}
	return decodeBody[tokenPair](t, resp)
}

// login signs in; a map body is sent as is.
func login(t *testing.T, s *apitest.Server, email, password string) *apitest.Response {
	t.Helper()
	return s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"email": email, "password": password}})
}

func mustLogin(t *testing.T, s *apitest.Server, email, password string) tokenPair {
	t.Helper()
	resp := login(t, s, email, password)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/auth/login %s = %d, want 200: %s", email, resp.StatusCode, resp.Body)
	}
	return decodeBody[tokenPair](t, resp)
}

func refresh(t *testing.T, s *apitest.Server, token string) *apitest.Response {
	t.Helper()
	return s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": token}})
}

func me(t *testing.T, s *apitest.Server, token string) *apitest.Response {
	t.Helper()
	return s.Do(t, apitest.Request{Method: "GET", Path: "/api/auth/me", Key: token})
}

// wantProblem fails unless r is a problem with status and code, and
// returns the problem.
func wantProblem(t *testing.T, r *apitest.Response, status int, code string) map[string]any {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s = %d, want %d: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.Body)
	}
	if got := r.Code(t); got != code {
		t.Errorf("%s %s: problem code = %q, want %q: %s", r.Request.Method, r.Request.URL.Path, got, code, r.Body)
	}
	return r.JSON(t)
}

func wantStatus(t *testing.T, r *apitest.Response, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s = %d, want %d: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.Body)
	}
}

func TestSignup(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		resp := s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/signup",
			Body: map[string]any{"email": "Ada@Example.com", "password": authPassword, "name": " Ada Lovelace "}})
		wantStatus(t, resp, http.StatusCreated)
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("signup Cache-Control = %q, want no-store", cc)
		}
		p := decodeBody[tokenPair](t, resp)
		if p.User.ID == "" || p.User.Email != "ada@example.com" || p.User.Name != "Ada Lovelace" || p.User.Verified || p.User.TOTPEnabled || p.User.Created.IsZero() {
			t.Errorf("signup user = %+v, want a new unverified ada@example.com named Ada Lovelace", p.User)
		}
		if p.TokenType != "Bearer" || p.ExpiresIn < 60 || p.Tenant != "default" || p.Role != "member" {
			t.Errorf("signup = %s, want Bearer tokens of a member of default", resp.Body)
		}
		if strings.Count(p.AccessToken, ".") != 2 || !strings.HasPrefix(p.RefreshToken, "bsr_") {
			t.Errorf("tokens = %q, %q, want a JWT and bsr_...", p.AccessToken, p.RefreshToken)
		}
		if strings.Contains(string(resp.Body), "argon2") || strings.Contains(string(resp.Body), authPassword) {
			t.Errorf("signup body shows the password or its hash: %s", resp.Body)
		}

		got := me(t, s, p.AccessToken)
		wantStatus(t, got, http.StatusOK)
		m := got.JSON(t)
		want := map[string]any{"id": p.User.ID, "email": "ada@example.com", "name": "Ada Lovelace", "verified": false, "totp_enabled": false,
			"tenant": "default", "role": "member", "tenants": []any{map[string]any{"tenant": "default", "role": "member"}}}
		for k, v := range want {
			if g, _ := json.Marshal(m[k]); string(g) != string(must(json.Marshal(v))) {
				t.Errorf("me[%s] = %s, want %s", k, g, must(json.Marshal(v)))
			}
		}
		if sid, _ := m["session"].(string); sid == "" {
			t.Errorf("me has no session: %s", got.Body)
		}

		again := s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/signup", Body: map[string]any{"email": "ADA@example.com", "password": authNewPassword}})
		wantProblem(t, again, http.StatusConflict, "conflict")
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestLoginThrottle(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		mustSignup(t, s, "ada@example.com")

		wrong := wantProblem(t, login(t, s, "ada@example.com", "not the password"), http.StatusUnauthorized, "unauthenticated")
		unknown := wantProblem(t, login(t, s, "nobody@example.com", authPassword), http.StatusUnauthorized, "unauthenticated")
		for _, k := range []string{"type", "title", "detail"} {
			if wrong[k] != unknown[k] {
				t.Errorf("%s: wrong password %q, unknown account %q; they must not differ", k, wrong[k], unknown[k])
			}
		}
		wantProblem(t, login(t, s, "ada@example.com", "not the password"), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, login(t, s, "ada@example.com", "not the password"), http.StatusUnauthorized, "unauthenticated")

		// The fourth attempt waits, even with the right password.
		limited := login(t, s, "ada@example.com", authPassword)
		wantProblem(t, limited, http.StatusTooManyRequests, "rate_limited")
		after, err := strconv.Atoi(limited.Header.Get("Retry-After"))
		if err != nil || after < 1 || after > 60 {
			t.Fatalf("Retry-After = %q, want a few seconds", limited.Header.Get("Retry-After"))
		}
		// Other accounts are not held up.
		wantProblem(t, login(t, s, "nobody@example.com", authPassword), http.StatusUnauthorized, "unauthenticated")

		time.Sleep(time.Duration(after) * time.Second)
		mustLogin(t, s, "ada@example.com", authPassword)
	})
}

func TestRefreshRotates(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		first := mustSignup(t, s, "ada@example.com")

		resp := refresh(t, s, first.RefreshToken)
		wantStatus(t, resp, http.StatusOK)
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("refresh Cache-Control = %q, want no-store", cc)
		}
		second := decodeBody[tokenPair](t, resp)
		if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken || second.User.ID != first.User.ID {
			t.Fatalf("refresh = %s, want new tokens of the same user", resp.Body)
		}
		wantStatus(t, me(t, s, second.AccessToken), http.StatusOK)

		// A spent token is a stolen one: it fails, and so does the newer.
		wantProblem(t, refresh(t, s, first.RefreshToken), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, refresh(t, s, second.RefreshToken), http.StatusUnauthorized, "unauthenticated")

		wantProblem(t, refresh(t, s, "bsr_"+strings.Repeat("a", 52)), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, refresh(t, s, first.AccessToken), http.StatusUnauthorized, "unauthenticated")
	})
}

func TestLogout(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		p := mustSignup(t, s, "ada@example.com")
		wantStatus(t, s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/logout", Key: p.AccessToken}), http.StatusNoContent)

		gone := me(t, s, p.AccessToken)
		wantProblem(t, gone, http.StatusUnauthorized, "unauthenticated")
		if gone.Header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
		wantProblem(t, refresh(t, s, p.RefreshToken), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/logout", Key: p.AccessToken}), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/logout"}), http.StatusUnauthorized, "unauthenticated")
	})
}

// session is an item of GET /api/auth/sessions, as the server encodes it.
type session = auth.SessionView

func sessionID(t *testing.T, s *apitest.Server, token string) string {
	t.Helper()
	resp := me(t, s, token)
	wantStatus(t, resp, http.StatusOK)
	id, _ := resp.JSON(t)["session"].(string)
	return id
}

func TestSessions(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		a := mustSignup(t, s, "ada@example.com")
		b := mustLogin(t, s, "ada@example.com", authPassword)
		aID, bID := sessionID(t, s, a.AccessToken), sessionID(t, s, b.AccessToken)

		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/api/auth/sessions", Key: a.AccessToken, Header: map[string]string{"User-Agent": "a-test"}})
		wantStatus(t, resp, http.StatusOK)
		list := decodeBody[struct{ Items []session }](t, resp).Items
		if len(list) != 2 {
			t.Fatalf("sessions = %s, want 2", resp.Body)
		}
		for _, x := range list {
			if x.Current != (x.ID == aID) || x.Tenant != "default" || x.IP == "" || !x.Expires.After(time.Now()) || x.Created.IsZero() {
				t.Errorf("session %+v; the current one is %s", x, aID)
			}
		}
		if !slices.ContainsFunc(list, func(x session) bool { return x.ID == bID }) {
			t.Errorf("sessions = %s, want %s among them", resp.Body, bID)
		}

		// Another user's session is not found, and stays.
		eve := mustSignup(t, s, "eve@example.com")
		eveID := sessionID(t, s, eve.AccessToken)
		wantProblem(t, s.Do(t, apitest.Request{Method: "DELETE", Path: "/api/auth/sessions/" + eveID, Key: a.AccessToken}), http.StatusNotFound, "not_found")
		wantStatus(t, me(t, s, eve.AccessToken), http.StatusOK)

		wantStatus(t, s.Do(t, apitest.Request{Method: "DELETE", Path: "/api/auth/sessions/" + bID, Key: a.AccessToken}), http.StatusNoContent)
		wantProblem(t, me(t, s, b.AccessToken), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, refresh(t, s, b.RefreshToken), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, s.Do(t, apitest.Request{Method: "DELETE", Path: "/api/auth/sessions/" + bID, Key: a.AccessToken}), http.StatusNotFound, "not_found")
		wantStatus(t, me(t, s, a.AccessToken), http.StatusOK)

		resp = s.Do(t, apitest.Request{Method: "GET", Path: "/api/auth/sessions", Key: a.AccessToken})
		if list := decodeBody[struct{ Items []session }](t, resp).Items; len(list) != 1 || list[0].ID != aID || !list[0].Current {
			t.Errorf("sessions after the revocation = %s, want only %s", resp.Body, aID)
		}
	})
}

// TestUserTokenLimits: a member's access token reaches none of the
// admin routes, nor records while no access rules exist.
func TestUserTokenLimits(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := setup(t, d)
		p := mustSignup(t, s, "ada@example.com")
		for _, rq := range []apitest.Request{
			{Method: "POST", Path: "/api/collections", Body: map[string]any{"name": "mine", "fields": []any{}}},
			{Method: "GET", Path: "/api/collections"},
			{Method: "GET", Path: "/api/collections/posts"},
			{Method: "PATCH", Path: "/api/collections/posts", Body: map[string]any{"fields": []any{}}},
			{Method: "DELETE", Path: "/api/collections/posts"},
			{Method: "GET", Path: "/api/events"},
			{Method: "GET", Path: "/api/collections/posts/records"},
			{Method: "POST", Path: "/api/collections/posts/records", Body: map[string]any{"title": "mine"}},
			{Method: "GET", Path: "/api/collections/posts/records/first"},
			{Method: "PATCH", Path: "/api/collections/posts/records/first", Body: map[string]any{"title": "mine"}},
			{Method: "DELETE", Path: "/api/collections/posts/records/first"},
		} {
			rq.Key = p.AccessToken
			wantProblem(t, s.Do(t, rq), http.StatusForbidden, "forbidden")
		}
		got := s.Admin(t, "GET", "/api/collections/posts/records/first", nil, http.StatusOK)
		if got["title"] != "Hello" {
			t.Errorf("the record after the refused writes = %v", got)
		}
		s.Admin(t, "GET", "/api/collections/posts", nil, http.StatusOK)
	})
}

// TestAPIKeyIsNoUser: the account routes need a user's access token.
func TestAPIKeyIsNoUser(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		for _, key := range []string{s.AdminKey, s.ServiceKey} {
			for _, rq := range []apitest.Request{
				{Method: "GET", Path: "/api/auth/me"},
				{Method: "GET", Path: "/api/auth/sessions"},
				{Method: "POST", Path: "/api/auth/logout"},
				{Method: "POST", Path: "/api/auth/password", Body: map[string]any{"current_password": authPassword, "new_password": authNewPassword}},
			} {
				rq.Key = key
				resp := s.Do(t, rq)
				if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
					t.Fatalf("%s %s with an API key = %d, want 401 or 403: %s", rq.Method, rq.Path, resp.StatusCode, resp.Body)
				}
				if code := resp.Code(t); code != "unauthenticated" && code != "forbidden" {
					t.Errorf("%s %s with an API key: code %q", rq.Method, rq.Path, code)
				}
			}
		}
	})
}

// jwks reads the key set and returns its keys by id.
func jwks(t *testing.T, s *apitest.Server) map[string]ed25519.PublicKey {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/.well-known/jwks.json"})
	wantStatus(t, resp, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("JWKS Content-Type = %q", ct)
	}
	set := decodeBody[struct {
		Keys []struct{ Kty, Crv, X, Kid, Alg, Use string }
	}](t, resp)
	keys := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" || k.Kid == "" {
			t.Errorf("JWK %+v, want an Ed25519 signing key with a kid", k)
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			t.Fatalf("JWK x = %q: %d bytes, %v", k.X, len(x), err)
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	if len(keys) == 0 {
		t.Fatalf("JWKS = %s, want a key", resp.Body)
	}
	return keys
}

// TestJWKSVerifies: a third party verifies access tokens with the
// published keys alone.
func TestJWKSVerifies(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		p := mustSignup(t, s, "ada@example.com")
		keys := jwks(t, s)
		claims := jwt.MapClaims{}
		tok, err := jwt.ParseWithClaims(p.AccessToken, claims, func(tok *jwt.Token) (any, error) {
			kid, _ := tok.Header["kid"].(string)
			if k, ok := keys[kid]; ok {
				return k, nil
			}
			return nil, jwt.ErrTokenUnverifiable
		}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience("basalt"), jwt.WithIssuer("basalt"), jwt.WithExpirationRequired())
		if err != nil || !tok.Valid {
			t.Fatalf("third-party verification of the access token: %v", err)
		}
		if claims["sub"] != p.User.ID || claims["tid"] != "default" || claims["role"] != "member" || claims["sid"] != sessionID(t, s, p.AccessToken) {
			t.Errorf("claims = %v, want those of %s in default", claims, p.User.ID)
		}

		// The same parser refuses the token under another key.
		other, _, _ := ed25519.GenerateKey(rand.Reader)
		_, err = jwt.Parse(p.AccessToken, func(*jwt.Token) (any, error) { return other, nil }, jwt.WithValidMethods([]string{"EdDSA"}))
		if err == nil {
			t.Error("the access token verifies under a random key")
		}
	})
}

// TestForgedTokens: only tokens the server signed with EdDSA pass, whatever
// their claims say.
func TestForgedTokens(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := setup(t, d)
		p := mustSignup(t, s, "ada@example.com")
		var kid string
		var pub ed25519.PublicKey
		for k, v := range jwks(t, s) {
			kid, pub = k, v
		}
		sid := sessionID(t, s, p.AccessToken)
		now := time.Now()
		claims := func() jwt.MapClaims {
			return jwt.MapClaims{"sub": p.User.ID, "sid": sid, "tid": "default", "role": "admin", "iss": "basalt",
				"aud": []string{"basalt"}, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		}
		sign := func(m jwt.SigningMethod, key any) string {
			tok := jwt.NewWithClaims(m, claims())
			tok.Header["kid"] = kid
			signed, err := tok.SignedString(key)
			if err != nil {
				t.Fatal(err)
			}
			return signed
		}
		_, foreign, _ := ed25519.GenerateKey(rand.Reader)
		parts := strings.Split(p.AccessToken, ".")
		payload := base64.RawURLEncoding.EncodeToString(must(json.Marshal(claims())))
		forged := map[string]string{
			"alg none":               sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType),
			"HS256 with the JWK":     sign(jwt.SigningMethodHS256, []byte(pub)),
			"HS256 with the JWK x":   sign(jwt.SigningMethodHS256, []byte(base64.RawURLEncoding.EncodeToString(pub))),
			"EdDSA with another key": sign(jwt.SigningMethodEdDSA, foreign),
			"claims swapped":         parts[0] + "." + payload + "." + parts[2],
			"no signature":           parts[0] + "." + parts[1] + ".",
			"refresh token":          p.RefreshToken,
			"garbage":                "not.a.token",
		}
		for name, token := range forged {
			for _, path := range []string{"/api/auth/me", "/api/collections", "/api/collections/posts/records"} {
				resp := s.Do(t, apitest.Request{Method: "GET", Path: path, Key: token})
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s: GET %s = %d, want 401: %s", name, path, resp.StatusCode, resp.Body)
					continue
				}
				if code := resp.Code(t); code != "unauthenticated" {
					t.Errorf("%s: GET %s code = %q", name, path, code)
				}
			}
		}
		wantStatus(t, me(t, s, p.AccessToken), http.StatusOK)
	})
}

func TestPasswordChange(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		a := mustSignup(t, s, "ada@example.com")
		b := mustLogin(t, s, "ada@example.com", authPassword)
		change := func(current, next string) *apitest.Response {
			return s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/password", Key: a.AccessToken,
				Body: map[string]any{"current_password": current, "new_password": next}})
		}
		p := wantProblem(t, change("not my password", authNewPassword), http.StatusBadRequest, "validation")
		if !namesField(p, "current_password") {
			t.Errorf("wrong current password: %v, want errors[] to name current_password", p)
		}
		wantProblem(t, change(authPassword, "short"), http.StatusBadRequest, "validation")
		wantProblem(t, change(authPassword, "password123"), http.StatusBadRequest, "validation")
		wantStatus(t, me(t, s, b.AccessToken), http.StatusOK) // the failures changed nothing

		wantStatus(t, change(authPassword, authNewPassword), http.StatusNoContent)
		wantProblem(t, refresh(t, s, b.RefreshToken), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, me(t, s, b.AccessToken), http.StatusUnauthorized, "unauthenticated")
		wantStatus(t, me(t, s, a.AccessToken), http.StatusOK)
		wantStatus(t, refresh(t, s, a.RefreshToken), http.StatusOK)

		wantProblem(t, login(t, s, "ada@example.com", authPassword), http.StatusUnauthorized, "unauthenticated")
		mustLogin(t, s, "ada@example.com", authNewPassword)
	})
}

// TestAuthBodies: bodies that are not what the route reads.
func TestAuthBodies(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		p := mustSignup(t, s, "ada@example.com")
		for _, sc := range []struct {
			name, path string
			auth       bool
			body       any
			header     map[string]string
			noCT       bool
			status     int
			code       string
			field      string
		}{
			{name: "signup malformed", path: "/api/auth/signup", body: `{"email":`, status: 400, code: "validation"},
			{name: "signup not an object", path: "/api/auth/signup", body: `["ada@example.com"]`, status: 400, code: "validation"},
			{name: "signup two values", path: "/api/auth/signup", body: `{"email":"bob@example.com","password":"correct horse battery"} {}`, status: 400, code: "validation"},
			{name: "signup unknown key", path: "/api/auth/signup", body: map[string]any{"email": "bob@example.com", "password": authPassword, "role": "admin"}, status: 400, code: "validation", field: "role"},
			{name: "signup wrong type", path: "/api/auth/signup", body: map[string]any{"email": "bob@example.com", "password": 12345678}, status: 400, code: "validation", field: "password"},
			{name: "signup bad email", path: "/api/auth/signup", body: map[string]any{"email": "bob", "password": authPassword}, status: 400, code: "validation", field: "email"},
			{name: "signup short password", path: "/api/auth/signup", body: map[string]any{"email": "bob@example.com", "password": "short"}, status: 400, code: "validation", field: "password"},
			{name: "signup empty", path: "/api/auth/signup", body: "", status: 400, code: "validation"},
			{name: "signup text/plain", path: "/api/auth/signup", body: `{"email":"bob@example.com","password":"correct horse battery"}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
			{name: "signup form", path: "/api/auth/signup", body: "email=bob%40example.com", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 415, code: "unsupported_media_type"},
			{name: "signup no type", path: "/api/auth/signup", body: `{}`, noCT: true, status: 415, code: "unsupported_media_type"},
			{name: "login malformed", path: "/api/auth/login", body: `{"email"`, status: 400, code: "validation"},
			{name: "login unknown key", path: "/api/auth/login", body: map[string]any{"email": "ada@example.com", "password": authPassword, "admin": true}, status: 400, code: "validation", field: "admin"},
			{name: "login text/plain", path: "/api/auth/login", body: `{}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
			{name: "refresh malformed", path: "/api/auth/refresh", body: `{`, status: 400, code: "validation"},
			{name: "refresh wrong type", path: "/api/auth/refresh", body: map[string]any{"refresh_token": 1}, status: 400, code: "validation", field: "refresh_token"},
			{name: "refresh no type", path: "/api/auth/refresh", body: `{}`, noCT: true, status: 415, code: "unsupported_media_type"},
			{name: "password malformed", path: "/api/auth/password", auth: true, body: `{"current_password":`, status: 400, code: "validation"},
			{name: "password text/plain", path: "/api/auth/password", auth: true, body: `{}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
			{name: "switch wrong type", path: "/api/auth/switch", auth: true, body: map[string]any{"tenant": []string{"default"}}, status: 400, code: "validation", field: "tenant"},
		} {
			t.Run(sc.name, func(t *testing.T) {
				rq := apitest.Request{Method: "POST", Path: sc.path, Body: sc.body, Header: sc.header, NoJSONH: sc.noCT}
				if sc.auth {
					rq.Key = p.AccessToken
				}
				problem := wantProblem(t, s.Do(t, rq), sc.status, sc.code)
				if sc.field != "" && !namesField(problem, sc.field) {
					t.Errorf("problem %v, want errors[] to name %s", problem, sc.field)
				}
			})
		}
		// Nothing above made an account or spent a token.
		wantProblem(t, login(t, s, "bob@example.com", authPassword), http.StatusUnauthorized, "unauthenticated")
		wantStatus(t, me(t, s, p.AccessToken), http.StatusOK)
	})
}
