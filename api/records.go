package api

import (
	"net/http"
	"net/url"
	"strconv"

	"basalt.dev/basalt"
	"basalt.dev/basalt/records"
)

func handleRecordCreate(svc *records.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		body, err := readJSON(r)
		if err != nil {
			return err
		}
		ctx, written := writeContext(r)
		rd, err := svc.Create(ctx, r.PathValue("name"), body)
		if err != nil {
			return err
		}
		setPosition(w, written)
		w.Header().Set("Location", "/api/collections/"+url.PathEscape(rd.Collection.Name)+"/records/"+url.PathEscape(rd.Record.ID))
		writeRecord(w, http.StatusCreated, rd.Collection, rd.Record, rd.Fields)
		return nil
	})
}

func handleRecordGet(svc *records.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := onlyParams(r, "fields"); err != nil {
			return err
		}
		ctx, err := readContext(r)
		if err != nil {
			return err
		}
		rd, err := svc.Get(ctx, r.PathValue("name"), r.PathValue("id"), r.URL.Query().Get("fields"))
		if err != nil {
			return err
		}
		if tag := etag(rd.Record, rd.Fields); noneMatch(r.Header.Get("If-None-Match"), tag) {
			w.Header().Set("ETag", tag)
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		writeRecord(w, http.StatusOK, rd.Collection, rd.Record, rd.Fields)
		return nil
	})
}

func handleRecordUpdate(svc *records.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		cond, err := ifMatch(r.Header.Get("If-Match"))
		if err != nil {
			return err
		}
		body, err := readJSON(r)
		if err != nil {
			return err
		}
		ctx, written := writeContext(r)
		rd, err := svc.Update(ctx, r.PathValue("name"), r.PathValue("id"), body, cond)
		if err != nil {
			return err
		}
		setPosition(w, written)
		writeRecord(w, http.StatusOK, rd.Collection, rd.Record, rd.Fields)
		return nil
	})
}

func handleRecordDelete(svc *records.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		cond, err := ifMatch(r.Header.Get("If-Match"))
		if err != nil {
			return err
		}
		ctx, written := writeContext(r)
		if err := svc.Delete(ctx, r.PathValue("name"), r.PathValue("id"), cond); err != nil {
			return err
		}
		setPosition(w, written)
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func handleRecordList(svc *records.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := onlyParams(r, "filter", "sort", "limit", "cursor", "fields", "count"); err != nil {
			return err
		}
		ctx, err := readContext(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		page, err := svc.List(ctx, r.PathValue("name"), records.ListParams{
			Filter: q.Get("filter"), Sort: q.Get("sort"), Limit: q.Get("limit"),
			Cursor: q.Get("cursor"), Fields: q.Get("fields"), Count: q.Get("count"),
		})
		if err != nil {
			return err
		}
		writePage(w, page)
		return nil
	})
}

// writeRecord writes one record with its ETag.
func writeRecord(w http.ResponseWriter, status int, c *basalt.Collection, rec *basalt.Record, fields map[string]bool) {
	buf := getBuf()
	defer putBuf(buf)
	b := basalt.AppendRecordJSON(*buf, c, rec, fields)
	b = append(b, '\n')
	*buf = b
	w.Header().Set("ETag", etag(rec, fields))
	writeRaw(w, status, b)
}

// onlyParams refuses query parameters the endpoint does not know, so a
// typo such as filer= is an error rather than a silently ignored filter.
func onlyParams(r *http.Request, known ...string) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return basalt.Errorf(basalt.CodeValidation, "The query string is malformed: %v.", err)
	}
	for name, vals := range q {
		ok := false
		for _, k := range known {
			ok = ok || name == k
		}
		if !ok {
			return basalt.Invalid("Unknown query parameter.", basalt.FieldError{Field: name, Code: "unknown_parameter",
				Message: name + " is not a parameter of this endpoint"})
		}
		if len(vals) > 1 {
			return basalt.Invalid("Repeated query parameter.", basalt.FieldError{Field: name, Code: "repeated",
				Message: name + " is given " + strconv.Itoa(len(vals)) + " times; give it once"})
		}
	}
	return nil
}
