package api

import (
	"net/http"

	"basalt.dev/basalt"
	"basalt.dev/basalt/records"
)

func handleCollectionList(svc *records.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, map[string]any{"items": svc.Collections(r.Context())})
		return nil
	})
}

func handleCollectionCreate(svc *records.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		body, err := readJSON(r)
		if err != nil {
			return err
		}
		var in struct {
			Name    string         `json:"name"`
			Fields  []basalt.Field `json:"fields"`
			Indexes []basalt.Index `json:"indexes"`
			Rules   basalt.Rules   `json:"rules"`
			Global  bool           `json:"global"`
		}
		if err := decodeStrict(body, &in); err != nil {
			return err
		}
		c, err := svc.CreateCollection(r.Context(), &basalt.Collection{Name: in.Name, Fields: in.Fields, Indexes: in.Indexes, Rules: in.Rules, Global: in.Global})
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/collections/"+c.Name)
		writeJSON(w, http.StatusCreated, c)
		return nil
	})
}

func handleCollectionGet(svc *records.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		c, err := svc.Collection(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, c)
		return nil
	})
}

func handleCollectionUpdate(svc *records.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		body, err := readJSON(r)
		if err != nil {
			return err
		}
		var p records.CollectionPatch
		if err := decodeStrict(body, &p); err != nil {
			return err
		}
		c, err := svc.UpdateCollection(r.Context(), r.PathValue("name"), &p)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, c)
		return nil
	})
}

func handleCollectionDelete(svc *records.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := svc.DeleteCollection(r.Context(), r.PathValue("name")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
