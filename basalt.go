// Package basalt holds the vocabulary shared by every part of Basalt:
// collections and their fields, records, events of the event log,
// principals and the error type. It imports only the standard library.
package basalt

import (
	"encoding/json"
	"time"
)

// DefaultTenant is the tenant every request acts in until tenants are
// managed.
const DefaultTenant = "default"

// FieldType is the type of a collection field.
type FieldType string

// The field types. Relation and file are reserved for their capabilities.
const (
	TypeText     FieldType = "text"
	TypeNumber   FieldType = "number"
	TypeBool     FieldType = "bool"
	TypeDate     FieldType = "date"
	TypeJSON     FieldType = "json"
	TypeRelation FieldType = "relation"
	TypeFile     FieldType = "file"
)

// Field is one column of a collection.
//
// A record value of a field has the Go type that the field type implies:
// string (text), float64 (number), bool (bool), time.Time in UTC (date) or
// json.RawMessage (json); nil stands for null.
type Field struct {
	Name     string          `json:"name"`
	Type     FieldType       `json:"type"`
	Required bool            `json:"required"`
	Unique   bool            `json:"unique"`
	Default  json.RawMessage `json:"default,omitempty"`
	// Hidden fields are never shown to users: only API keys read them,
	// and users cannot filter or sort on them.
	Hidden bool `json:"hidden,omitempty"`
	// ReadOnly fields are set only through API keys; users may read them.
	ReadOnly bool `json:"readonly,omitempty"`
}

// Index is a database index over one or more fields of a collection.
// Name is derived from the fields and uniqueness and is stable.
type Index struct {
	Name   string   `json:"name"`
	Fields []string `json:"fields"`
	Unique bool     `json:"unique"`
}

// Collection is a declared set of records with a schema. Each collection is
// a real table with a column per field and a real index per Index.
type Collection struct {
	Name    string  `json:"name"`
	Fields  []Field `json:"fields"`
	Indexes []Index `json:"indexes"`
	// Rules say who may do what with the records; see Rules.
	Rules Rules `json:"rules"`
	// Global collections hold data shared by every tenant (a product
	// catalogue, say) under GlobalTenant; others are tenant-scoped.
	Global  bool      `json:"global,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Rules are access rules in the filter language, one per operation. A nil
// rule means only API keys may (locked, the default); an empty rule means
// anyone acting in the tenant, signed in or not. Keys always pass.
type Rules struct {
	List   *string `json:"list"`
	View   *string `json:"view"`
	Create *string `json:"create"`
	Update *string `json:"update"`
	Delete *string `json:"delete"`
}

// GlobalTenant is the tenant under which global collections keep their
// records. Tenant ids never start with "_".
const GlobalTenant = "_global"

// Field returns the field with the given name, or nil.
func (c *Collection) Field(name string) *Field {
	for i := range c.Fields {
		if c.Fields[i].Name == name {
			return &c.Fields[i]
		}
	}
	return nil
}

// Record is one row of a collection. Data holds the user fields by name;
// a field missing from Data is null.
type Record struct {
	ID      string
	Created time.Time
	Updated time.Time
	// Version counts the writes to the record, starting at 1. It backs the
	// ETag and the If-Match precondition.
	Version int64
	Data    map[string]any

	// json is the record's full JSON object under definition jsonOf, kept
	// by stores that cache records so a read copies it instead of
	// encoding again. A record is not changed once made, so it stays true.
	json   []byte
	jsonOf *Collection
}

// KeepJSON encodes r under definition c and keeps the bytes, so that
// AppendRecordJSON of r under c copies them. A record that keeps them
// already is left untouched, so the records a cache shares with its
// readers are only read.
func (r *Record) KeepJSON(c *Collection) {
	if r.jsonOf == c && r.json != nil {
		return
	}
	r.json = AppendRecordJSON(nil, c, r, nil)
	r.jsonOf = c
}

// Op is the kind of change an event records.
type Op string

// The operations of the event log.
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
	// OpSchema records a change to a collection's definition. Its record is
	// the collection after the change (null after a delete), and its tenant
	// is empty: collections belong to the application, not to a tenant.
	OpSchema Op = "schema"
)

// Event is one entry of the event log. Positions are unique and increase
// in commit order as readers observe it: a reader that has seen position P
// never later sees an event below P.
type Event struct {
	Position   int64           `json:"position"`
	TenantID   string          `json:"tenant"`
	Collection string          `json:"collection"`
	RecordID   string          `json:"record_id"`
	Op         Op              `json:"op"`
	Record     json.RawMessage `json:"record"`
	Time       time.Time       `json:"time"`
}

// Role is what a principal may do.
type Role string

// The roles of API keys.
const (
	// RoleAdmin manages collections, reads the event log and everything else.
	RoleAdmin Role = "admin"
	// RoleService reads and writes records.
	RoleService Role = "service"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleService }

// Principal is who a request acts as.
type Principal struct {
	// Kind is "key" for an API key, "user" for a signed-in user.
	Kind string
	// ID identifies the principal in logs: a key's public id or a user's
	// id, never a secret.
	ID       string
	TenantID string
	// Role is a key's role, or the user's role in the tenant (owner,
	// admin, member or one the tenant defined); "" without a tenant.
	Role Role
	// Session is the user's session id.
	Session string
	// Scopes are what an API key may do (see Scopes); users have none,
	// their roles and the access rules decide for them.
	Scopes []string
}

// The scopes of API keys. A key's role gives it a set of scopes; a key
// may be narrowed to some of them.
const (
	ScopeCollections  = "collections"   // define collections
	ScopeRecordsRead  = "records:read"  // read records, past every rule
	ScopeRecordsWrite = "records:write" // write records, past every rule
	ScopeEvents       = "events:read"   // read the event log
	ScopeTenant       = "tenant"        // manage the key's tenant: members, invitations, audit, export
	ScopeKeys         = "keys"          // create, list and revoke the tenant's keys
)

// RoleScopes returns the scopes a role gives.
func RoleScopes(r Role) []string {
	switch r {
	case RoleAdmin:
		return []string{ScopeCollections, ScopeRecordsRead, ScopeRecordsWrite, ScopeEvents, ScopeTenant, ScopeKeys}
	case RoleService:
		return []string{ScopeRecordsRead, ScopeRecordsWrite}
	}
	return nil
}

// Can reports whether p is an API key with scope.
func (p *Principal) Can(scope string) bool {
	if p == nil || p.Kind != "key" {
		return false
	}
	for _, s := range p.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// IsAdmin reports whether p may do everything within its tenant.
func (p *Principal) IsAdmin() bool { return p != nil && p.Role == RoleAdmin }
