package app_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"basalt.dev/basalt/app"
)

// runServe runs "basalt serve" with args in the background and returns
// its base URL and a function that stops it and returns Run's error.
func runServe(t *testing.T, env map[string]string, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	errc := make(chan error, 1)
	go func() {
		err := app.Run(ctx, append([]string{"basalt", "serve"}, args...), func(k string) string { return env[k] }, nil, pw, &stderr)
		pw.Close()
		errc <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("serve printed no URL: %v; stderr: %s", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	url := regexp.MustCompile(`http://\S+`).FindString(line)
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not stop within 20s")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return url, stop
}

func run(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := app.Run(context.Background(), append([]string{"basalt"}, args...), func(k string) string { return env[k] }, nil, &stdout, &stderr)
	return stdout.String(), err
}

func TestKeysCreatePrintsOnlyTheKey(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, nil, "keys", "create", "--name", "ci", "--role", "admin", "--data", dir)
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	if !regexp.MustCompile(`^bsk_[a-z2-7]{16}_[a-z2-7]{52}\n$`).MatchString(out) {
		t.Fatalf("keys create printed %q, want the key alone", out)
	}
	// The secret is not in the database file.
	data, _ := os.ReadFile(filepath.Join(dir, "data.db"))
	wal, _ := os.ReadFile(filepath.Join(dir, "data.db-wal"))
	secret := strings.TrimSpace(out)[len("bsk_")+17:]
	if bytes.Contains(data, []byte(secret)) || bytes.Contains(wal, []byte(secret)) {
		t.Error("the key's secret is stored in clear")
	}
	url, stop := runServe(t, map[string]string{"BASALT_DATA": dir}, "--http", "127.0.0.1:0")
	req, _ := http.NewRequest("GET", url+"/api/collections", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(out))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/collections with the new key = %v, %v", resp, err)
	}
	resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatalf("serve stopped with %v", err)
	}
	if _, err := run(t, nil, "keys", "create", "--name", "x", "--role", "root", "--data", dir); err == nil || !strings.Contains(err.Error(), "role") {
		t.Errorf("keys create --role root = %v, want an error about the role", err)
	}
}

func TestMigrateStatus(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, nil, "migrate", "status", "--data", dir)
	if err != nil || !strings.Contains(out, "pending") {
		t.Fatalf("migrate status on a new store = %q, %v; want pending migrations", out, err)
	}
	if out, err = run(t, nil, "migrate", "up", "--data", dir); err != nil || strings.Contains(out, "pending") {
		t.Fatalf("migrate up = %q, %v", out, err)
	}
	if !regexp.MustCompile(`(?m)^1\s+init\s+\d{4}-`).MatchString(out) {
		t.Errorf("migrate up output = %q, want version 1 applied", out)
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	// The environment selects the data directory; a flag overrides it.
	_, err := run(t, map[string]string{"BASALT_DATA": filepath.Join(dir, "env")}, "migrate", "up")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "env", "data.db")); err != nil {
		t.Errorf("BASALT_DATA was not used: %v", err)
	}
	_, err = run(t, map[string]string{"BASALT_DATA": filepath.Join(dir, "env")}, "migrate", "up", "--data", filepath.Join(dir, "flag"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "flag", "data.db")); err != nil {
		t.Errorf("--data did not override BASALT_DATA: %v", err)
	}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"serve", "--db", "mysql://x"}, "--db"},
		{map[string]string{"BASALT_BODY_LIMIT": "ten"}, []string{"serve"}, "--body-limit"},
		{nil, []string{"serve", "--request-timeout", "-1s"}, "--request-timeout"},
		{nil, []string{"serve", "--sqlite-sync", "OFF"}, "--sqlite-sync"},
		{nil, []string{"frobnicate"}, "unknown command"},
	} {
		if _, err := run(t, tc.env, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v = %v, want an error naming %s", tc.env, tc.args, err, tc.want)
		}
	}
}

func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db-url")
	os.WriteFile(path, []byte("mysql://from-file\n"), 0o600)
	_, err := run(t, map[string]string{"BASALT_DB_FILE": path}, "serve")
	if err == nil || !strings.Contains(err.Error(), "--db") {
		t.Errorf("BASALT_DB_FILE was not read: %v", err)
	}
}

// TestSlowClientsAreCut, on plain connections and on the stamped ones
// that --shed-delay serves from (a target no load reaches: the guard
// reads every request's wait and refuses none).
func TestSlowClientsAreCut(t *testing.T) {
	for _, shed := range []string{"0", "1h"} {
		t.Run("shed-delay "+shed, func(t *testing.T) { testSlowClientsAreCut(t, shed) })
	}
}

func testSlowClientsAreCut(t *testing.T, shedDelay string) {
	url, _ := runServe(t, nil, "--http", "127.0.0.1:0", "--data", t.TempDir(), "--read-header-timeout", "300ms", "--read-timeout", "600ms", "--shed-delay", shedDelay)
	addr := strings.TrimPrefix(url, "http://")
	resp, err := http.Get(url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /healthz = %v, %v", resp, err)
	}
	resp.Body.Close()
	for name, partial := range map[string]string{
		"slow headers": "GET /healthz HTTP/1.1\r\nHost: x\r\n",
		"slow body":    "POST /api/collections HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"na",
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Write([]byte(partial))
			start := time.Now()
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			io.Copy(io.Discard, conn) // returns when the server closes
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("the server held a stalled client for %v", elapsed)
			}
		})
	}
}

func TestShutdownFinishesInFlightRequests(t *testing.T) {
	dir := t.TempDir()
	key, err := run(t, nil, "keys", "create", "--name", "k", "--role", "admin", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	url, stop := runServe(t, nil, "--http", "127.0.0.1:0", "--data", dir)
	body := `{"name": "slow"}`
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", url+"/api/collections", pr)
	req.ContentLength = int64(len(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(key))
	req.Header.Set("Content-Type", "application/json")
	var resp *http.Response
	var reqErr error
	var wg sync.WaitGroup
	wg.Go(func() { resp, reqErr = http.DefaultClient.Do(req) })
	pw.Write([]byte(body[:5])) // the request is in flight, its body half sent
	time.Sleep(100 * time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(200 * time.Millisecond)
	pw.Write([]byte(body[5:]))
	pw.Close()
	wg.Wait()
	if reqErr != nil || resp.StatusCode != 201 {
		t.Fatalf("in-flight request during shutdown = %v, %v; want 201", resp, reqErr)
	}
	resp.Body.Close()
	if err := <-stopped; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	// The store was closed cleanly: a new server sees the collection.
	url, _ = runServe(t, nil, "--http", "127.0.0.1:0", "--data", dir)
	req, _ = http.NewRequest("GET", url+"/api/collections/slow", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(key))
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after restart GET /api/collections/slow = %v, %v", resp, err)
	}
	resp.Body.Close()
}

func TestVersion(t *testing.T) {
	out, err := run(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "basalt ") {
		t.Errorf("version = %q, %v", out, err)
	}
}
