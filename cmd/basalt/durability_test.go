package main_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"basalt.dev/basalt/internal/testdb"
)

// binDir holds the binary the tests build; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBasalt builds the binary once for the tests of this package.
var buildBasalt = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "basalt-bin")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "basalt")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// server is a basalt process.
type server struct {
	cmd *exec.Cmd
	url string
}

func start(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	bin, err := buildBasalt()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--http", "127.0.0.1:0", "--log-requests=false"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("basalt serve printed no URL: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	return &server{cmd: cmd, url: regexp.MustCompile(`http://\S+`).FindString(line)}
}

func createKey(t *testing.T, env []string, args ...string) string {
	t.Helper()
	bin, err := buildBasalt()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"keys", "create", "--name", "durability", "--role", "admin"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func call(url, key, method, path string, body any) (*http.Response, []byte, error) {
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url+path, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// TestKill9KeepsAcknowledgedWrites writes in a loop from several clients,
// kills the server with SIGKILL mid-stream, restarts it, and checks that
// every write the server acknowledged is there.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server")
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testKill9(t, nil, "--data", t.TempDir())
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := testdb.PostgresURL(t)
		roleURL, schema := testdb.Role(t, url)
		// Any 32 bytes in base64url do; PostgreSQL nodes must share one.
		secret := "BASALT_SECRET_KEY=" + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
		testKill9(t, []string{"BASALT_DB=" + testdb.WithSearchPath(roleURL, schema), secret})
	})
}

func testKill9(t *testing.T, env []string, args ...string) {
	key := createKey(t, env, args...)
	s := start(t, env, args...)
	resp, body, err := call(s.url, key, "POST", "/api/collections", map[string]any{"name": "log", "fields": []map[string]any{{"name": "n", "type": "number"}}})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create collection: %v %s", err, body)
	}
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				resp, body, err := call(s.url, key, "POST", "/api/collections/log/records", map[string]any{"n": w*100000 + i})
				if err != nil {
					return // the server is gone
				}
				if resp.StatusCode != 201 {
					t.Errorf("write: %d %s", resp.StatusCode, body)
					return
				}
				var rec struct{ ID string }
				json.Unmarshal(body, &rec)
				mu.Lock()
				acked = append(acked, rec.ID)
				mu.Unlock()
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s.cmd.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 50 {
		t.Fatalf("only %d writes before the kill; the test proves nothing", len(acked))
	}
	s2 := start(t, env, args...)
	for _, id := range acked {
		resp, body, err := call(s2.url, key, "GET", "/api/collections/log/records/"+id, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("acknowledged record %s lost after kill -9: %v %s", id, err, body)
		}
	}
	t.Logf("%d acknowledged writes all survived kill -9", len(acked))
}
