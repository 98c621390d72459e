package api

import (
	"net/http"

	"basalt.dev/basalt"
	"basalt.dev/basalt/auth"
)

// meta reads what the request tells about its client.
func meta(r *http.Request) auth.Meta {
	return auth.Meta{IP: clientIP(r), UserAgent: r.UserAgent()}
}

// decodeInto reads a JSON body into v.
func decodeInto(r *http.Request, v any) error {
	body, err := readJSON(r)
	if err != nil {
		return err
	}
	return decodeStrict(body, v)
}

func handleSignup(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in auth.SignupInput
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		pair, err := users.Signup(r.Context(), in, meta(r))
		if err != nil {
			return err
		}
		writeTokens(w, http.StatusCreated, pair)
		return nil
	})
}

func handleLogin(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in auth.LoginInput
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		pair, err := users.Login(r.Context(), in, meta(r))
		if err != nil {
			return err
		}
		writeTokens(w, http.StatusOK, pair)
		return nil
	})
}

func handleRefresh(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		pair, err := users.Refresh(r.Context(), in.RefreshToken, meta(r))
		if err != nil {
			return err
		}
		writeTokens(w, http.StatusOK, pair)
		return nil
	})
}

func handleSwitch(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Tenant string `json:"tenant"`
		}
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		pair, err := users.Switch(r.Context(), basalt.PrincipalFrom(r.Context()), in.Tenant)
		if err != nil {
			return err
		}
		writeTokens(w, http.StatusOK, pair)
		return nil
	})
}

// writeTokens answers with tokens, which no cache may keep.
func writeTokens(w http.ResponseWriter, status int, pair *auth.TokenPair) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, pair)
}

func handleLogout(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := users.Logout(r.Context(), basalt.PrincipalFrom(r.Context()), meta(r)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func handleMe(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		me, err := users.Me(r.Context(), basalt.PrincipalFrom(r.Context()))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, me)
		return nil
	})
}

func handleSessionList(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		ss, err := users.Sessions(r.Context(), basalt.PrincipalFrom(r.Context()))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": ss})
		return nil
	})
}

func handleSessionRevoke(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := users.RevokeSession(r.Context(), basalt.PrincipalFrom(r.Context()), r.PathValue("id"), meta(r)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func handlePasswordChange(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Current string `json:"current_password"`
			New     string `json:"new_password"`
		}
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		if err := users.ChangePassword(r.Context(), basalt.PrincipalFrom(r.Context()), in.Current, in.New, meta(r)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// tokenParam reads a mailed token from ?token= (a followed link) or
// from a JSON body.
func tokenParam(r *http.Request) (string, error) {
	if t := r.URL.Query().Get("token"); t != "" || r.Method == http.MethodGet {
		return t, nil
	}
	var in struct {
		Token string `json:"token"`
	}
	err := decodeInto(r, &in)
	return in.Token, err
}

func handleVerify(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		token, err := tokenParam(r)
		if err != nil {
			return err
		}
		if err := users.Verify(r.Context(), token, meta(r)); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"verified": true})
		return nil
	})
}

func handleVerifyRequest(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := users.RequestVerify(r.Context(), basalt.PrincipalFrom(r.Context())); err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	})
}

func handleResetRequest(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Email string `json:"email"`
		}
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		if err := users.RequestReset(r.Context(), in.Email); err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	})
}

func handleReset(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method == http.MethodGet {
			// A followed link: say what to do with the token; it stays unused.
			token := r.URL.Query().Get("token")
			if err := users.CheckResetToken(r.Context(), token); err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, map[string]any{"token": token, "next": "POST /api/auth/reset with {\"token\", \"password\"}"})
			return nil
		}
		var in struct {
			Token    string `json:"token"`
			Password string `json:"password"`
		}
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		if err := users.Reset(r.Context(), in.Token, in.Password, meta(r)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func handleUnlock(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		token, err := tokenParam(r)
		if err != nil {
			return err
		}
		if err := users.Unlock(r.Context(), token); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"unlocked": true})
		return nil
	})
}

func handleTOTPSetup(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		setup, err := users.SetupTOTP(r.Context(), basalt.PrincipalFrom(r.Context()))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, setup)
		return nil
	})
}

func handleTOTPEnable(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Code string `json:"code"`
		}
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		codes, err := users.EnableTOTP(r.Context(), basalt.PrincipalFrom(r.Context()), in.Code, meta(r))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
		return nil
	})
}

func handleTOTPDisable(users *auth.Users) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Password string `json:"password"`
		}
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		if err := users.DisableTOTP(r.Context(), basalt.PrincipalFrom(r.Context()), in.Password, meta(r)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func handleJWKS(tokens *auth.Tokens) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		writeRaw(w, http.StatusOK, tokens.JWKS())
	})
}
