package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"

	_ "modernc.org/sqlite" // the same SQLite driver as the store
)

// ServeCeiling serves the bench's baseline: GET /records/{id} reads one
// post from the SQLite file in dir with a prepared statement and writes
// it with encoding/json, on a bare net/http server; GET /list?min=N does
// the same for the list query. Nothing else: no
// authentication, logging, metrics or middleware. Basalt's point read is
// measured against it.
func ServeCeiling(ctx context.Context, dir, addr string, stdout io.Writer) error {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "data.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	db.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	h, err := CeilingHandler(ctx, db)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ceiling serving http://%s\n", ln.Addr())
	srv := &http.Server{Handler: h}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// CeilingHandler is the ceiling's handler on db: GET /records/{id}.
func CeilingHandler(ctx context.Context, db *sql.DB) (http.Handler, error) {
	stmt, err := db.PrepareContext(ctx, `SELECT id, created, updated, "title", "views", "draft", "body" FROM "c_posts" WHERE tenant_id = 'default' AND id = ?`)
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	list, err := db.PrepareContext(ctx, `SELECT id, created, updated, "title", "views", "draft", "body" FROM "c_posts" WHERE tenant_id = 'default' AND "views" >= ? ORDER BY "views", id LIMIT 20`)
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /list", func(w http.ResponseWriter, r *http.Request) {
		rows, err := list.QueryContext(r.Context(), r.URL.Query().Get("min"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer rows.Close()
		var out []ceilingRecord
		for rows.Next() {
			var rec ceilingRecord
			if err := rows.Scan(&rec.ID, &rec.Created, &rec.Updated, &rec.Title, &rec.Views, &rec.Draft, &rec.Body); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			out = append(out, rec)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"items": out})
	})
	mux.HandleFunc("GET /records/{id}", func(w http.ResponseWriter, r *http.Request) {
		var rec ceilingRecord
		err := stmt.QueryRowContext(r.Context(), r.PathValue("id")).Scan(&rec.ID, &rec.Created, &rec.Updated, &rec.Title, &rec.Views, &rec.Draft, &rec.Body)
		if errors.Is(err, sql.ErrNoRows) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rec)
	})
	return mux, nil
}

type ceilingRecord struct {
	ID      string   `json:"id"`
	Created string   `json:"created"`
	Updated string   `json:"updated"`
	Title   *string  `json:"title"`
	Views   *float64 `json:"views"`
	Draft   *bool    `json:"draft"`
	Body    *string  `json:"body"`
}
