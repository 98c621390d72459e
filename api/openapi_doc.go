package api

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"basalt.dev/basalt"
	"basalt.dev/basalt/records"
)

// This file describes the API as an OpenAPI 3.1 document. The document is
// plain maps and slices, so encoding/json writes it deterministically.
//
// Naming. Each live collection gets its own schemas and paths; its name
// in PascalCase names them (blog_posts: BlogPostsRecord, listBlogPosts).
// Operation ids of the fixed routes are noun first (collectionGet,
// recordsList, eventsList) and those of a live collection verb first
// (getBlogPosts), so a collection called "collections" or "events" cannot
// take an id that is already in use. Schema names of collections always
// end in Record, RecordInput, RecordPatch or RecordPage after a non-empty
// prefix, which no fixed schema does.

// oaMap is one JSON object of the document.
type oaMap = map[string]any

// recordIDPattern is what records.ValidID accepts.
const recordIDPattern = `^[A-Za-z0-9_-]{1,64}$`

// OpenAPI returns the OpenAPI 3.1 description of the API, with typed
// schemas and paths for each of the live collections cols.
func OpenAPI(cols []*basalt.Collection, version string) map[string]any {
	if version == "" {
		version = "dev"
	}
	cols = slices.DeleteFunc(slices.Clone(cols), func(c *basalt.Collection) bool { return c == nil })
	slices.SortFunc(cols, func(a, b *basalt.Collection) int { return strings.Compare(a.Name, b.Name) })
	names := oaTypeNames(cols)
	schemas, paths, tags := oaBaseSchemas(), oaBasePaths(), oaBaseTags()
	maps.Copy(schemas, oaAuthSchemas())
	maps.Copy(paths, oaAuthPaths())
	maps.Copy(schemas, oaTenantSchemas())
	maps.Copy(paths, oaTenantPaths())
	maps.Copy(schemas, oaRateLimitSchemas())
	maps.Copy(paths, oaRateLimitPaths())
	tags = append(tags, oaRateLimitTag())
	for _, c := range cols {
		maps.Copy(schemas, oaCollectionSchemas(c, names[c.Name]))
		maps.Copy(paths, oaRecordPaths(oaCollectionRecordAPI(c, names[c.Name])))
		tags = append(tags, oaMap{"name": c.Name, "description": "Records of the " + c.Name + " collection, typed by its schema."})
	}
	return oaMap{
		"openapi": "3.1.0",
		"info": oaMap{
			"title":   "Basalt",
			"version": version,
			"description": "Basalt's HTTP API. Requests under /api/ carry `Authorization: Bearer <API key or access token>`; " +
				"errors are RFC 9457 problems (application/problem+json). Each live collection has typed record paths " +
				"under /api/collections/<name>/records; the generic paths with {name} serve any collection.",
		},
		"servers":  []any{oaMap{"url": "/"}},
		"security": []any{oaMap{"bearer": []any{}}},
		"tags":     tags,
		"paths":    paths,
		"components": oaMap{
			"securitySchemes": oaMap{"bearer": oaMap{
				"type": "http", "scheme": "bearer",
				"description": "An API key `bsk_...` (see `basalt keys create`), or a user's access token: " +
					"a JWT signed with EdDSA, from sign-up, sign-in or refresh, whose keys are at /.well-known/jwks.json.",
			}},
			"schemas":    schemas,
			"responses":  oaResponses(),
			"parameters": oaParameters(),
			"headers":    oaHeaders(),
		},
	}
}

// oaTypeNames maps each collection name to the PascalCase prefix of its
// schema names and operation ids. Names whose PascalCase forms coincide
// (post_2 and post2 both give Post2) are only capitalized instead (Post_2,
// Post2), which keeps the mapping one to one.
func oaTypeNames(cols []*basalt.Collection) map[string]string {
	count := map[string]int{}
	for _, c := range cols {
		count[oaPascal(c.Name)]++
	}
	out := make(map[string]string, len(cols))
	for _, c := range cols {
		n := oaPascal(c.Name)
		if count[n] > 1 {
			n = strings.ToUpper(c.Name[:1]) + c.Name[1:]
		}
		out[c.Name] = n
	}
	return out
}

// oaPascal converts a snake_case name to PascalCase: blog_posts → BlogPosts.
func oaPascal(name string) string {
	var b strings.Builder
	up := true
	for _, part := range name {
		switch {
		case part == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(part)))
			up = false
		default:
			b.WriteRune(part)
		}
	}
	return b.String()
}

// ---- small builders ----

func oaRef(kind, name string) oaMap { return oaMap{"$ref": "#/components/" + kind + "/" + name} }

func oaSchemaRef(name string) oaMap { return oaRef("schemas", name) }

func oaType(t string) oaMap { return oaMap{"type": t} }

func oaDesc(s oaMap, desc string) oaMap { s["description"] = desc; return s }

func oaArray(items oaMap) oaMap { return oaMap{"type": "array", "items": items} }

func oaDateTime() oaMap { return oaMap{"type": "string", "format": "date-time"} }

// oaNullable lets a typed schema be null as well.
func oaNullable(s oaMap) oaMap {
	if t, ok := s["type"].(string); ok {
		s["type"] = []any{t, "null"}
	}
	return s
}

// oaObject is an object schema; required lists the properties that are
// always present.
func oaObject(props oaMap, required ...string) oaMap {
	s := oaMap{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = oaStrings(required)
	}
	return s
}

// oaClosed forbids properties other than those declared.
func oaClosed(s oaMap) oaMap { s["additionalProperties"] = false; return s }

func oaStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// oaContent is a content map of one media type.
func oaContent(mediaType string, schema oaMap) oaMap {
	return oaMap{mediaType: oaMap{"schema": schema}}
}

// oaJSONResponse is a response with a JSON body of the named schema.
func oaJSONResponse(desc, schema string, headers ...string) oaMap {
	r := oaMap{"description": desc, "content": oaContent("application/json", oaSchemaRef(schema))}
	return oaWithHeaders(r, headers)
}

// oaWithHeaders adds the named header components to a response.
func oaWithHeaders(r oaMap, headers []string) oaMap {
	if len(headers) == 0 {
		return r
	}
	hs := oaMap{}
	for _, h := range headers {
		hs[h] = oaRef("headers", h)
	}
	r["headers"] = hs
	return r
}

// ---- operations ----

// oaOp is one operation, as a row of a table.
type oaOp struct {
	id, summary, tag string
	public           bool     // no credentials needed
	anonymous        bool     // credentials optional: without them the access rules decide
	params           []string // names of parameter components
	body             string   // schema of the JSON request body, "" for none
	ok               oaMap    // the success responses by status
	errs             []int    // problem statuses besides 401, 403 (authenticated) and 500
}

func (o oaOp) build() oaMap {
	op := oaMap{"operationId": o.id, "summary": o.summary, "tags": []any{o.tag}}
	switch {
	case o.public:
		op["security"] = []any{}
	case o.anonymous:
		op["security"] = []any{oaMap{"bearer": []any{}}, oaMap{}}
	}
	if len(o.params) > 0 {
		ps := make([]any, len(o.params))
		for i, p := range o.params {
			ps[i] = oaRef("parameters", p)
		}
		op["parameters"] = ps
	}
	if o.body != "" {
		op["requestBody"] = oaMap{"required": true, "content": oaContent("application/json", oaSchemaRef(o.body))}
	}
	responses := maps.Clone(o.ok)
	errs := append(slices.Clone(o.errs), 500)
	if !o.public {
		errs = append(errs, 401, 403)
	}
	for _, status := range errs {
		responses[strconv.Itoa(status)] = oaRef("responses", oaProblemName(status))
	}
	responses["default"] = oaRef("responses", "Error")
	op["responses"] = responses
	return op
}

func oaBaseTags() []any {
	return []any{
		oaMap{"name": "Collections", "description": "Collection definitions: fields, indexes. Admin keys only."},
		oaMap{"name": "Records", "description": "Records of any collection, untyped. Each live collection also has typed paths under its own tag. " +
			"API keys pass every access rule; users and anonymous callers meet the collection's rules, and a rule left null admits API keys only."},
		oaMap{"name": "Events", "description": "The event log. Admin keys only."},
		oaMap{"name": "Realtime", "description": "Changes as they happen, from the event log: each event carries its position, and a client that reconnects with the last one it got " +
			"misses nothing and gets nothing twice. Users and anonymous callers see what the collection's rules let them see."},
		oaMap{"name": "Operations", "description": "Health, readiness, metrics and this document. No credentials needed."},
		oaMap{"name": "Tokens", "description": "User accounts and their tokens: sign-up and sign-in, refresh, sessions, " +
			"passwords, mailed links and second factors, and the keys that verify access tokens. " +
			"Where credentials are needed they are the user's access token, never an API key."},
		oaMap{"name": "Keys", "description": "API keys of the caller's tenant, with a role and optional scopes and expiry. " +
			"Managed by the tenant's owners and admins, or by a key with the keys scope; a key never makes one with more than it has."},
		oaMap{"name": "Tenants", "description": "Tenants, their members, custom roles, invitations, export and audit trail. " +
			"Who may do what is read from the memberships at each request: owners and admins manage, members read."},
	}
}

// oaBasePaths are the paths that do not depend on the live collections.
func oaBasePaths() oaMap {
	text := oaMap{"description": "Prometheus metrics in the text exposition format.", "content": oaContent("text/plain", oaType("string"))}
	doc := oaMap{"description": "This document.", "content": oaContent("application/json", oaType("object"))}
	paths := oaMap{
		"/healthz": oaMap{"get": oaOp{id: "healthGet", summary: "Report that the process is alive", tag: "Operations", public: true,
			ok: oaMap{"200": oaJSONResponse("The process is alive.", "Status")}}.build()},
		"/readyz": oaMap{"get": oaOp{id: "readinessGet", summary: "Report whether the server can serve requests", tag: "Operations", public: true,
			ok: oaMap{"200": oaJSONResponse("The database answers and every migration is applied.", "Status")}, errs: []int{503}}.build()},
		"/metrics": oaMap{"get": oaOp{id: "metricsGet", summary: "Read the Prometheus metrics", tag: "Operations", public: true,
			ok: oaMap{"200": text}}.build()},
		"/api/openapi.json": oaMap{"get": oaOp{id: "openapiGet", summary: "Read this OpenAPI document", tag: "Operations", public: true,
			ok: oaMap{"200": doc}}.build()},
		"/api/events": oaMap{"get": oaOp{id: "eventsList", summary: "Read the event log after a position", tag: "Events",
			params: []string{"EventsAfter", "EventsLimit"}, errs: []int{400},
			ok: oaMap{"200": oaJSONResponse("Events in position order.", "EventPage")}}.build()},
		"/api/realtime": oaMap{"get": oaOp{id: "realtimeStream", summary: "Follow changes as Server-Sent Events", tag: "Realtime", anonymous: true,
			params: []string{"Subscribe", "RealtimeFilter", "RealtimeAfter", "LastEventID", "Channels", "Presence", "Ticket"}, errs: []int{400, 404, 429},
			ok: oaMap{"200": oaMap{"description": "A stream of events, each `id: <position>`, `event: create|update|delete`, " +
				"`data: {\"position\",\"collection\",\"op\",\"time\",\"record\"}`, only those the collection's list rule (view rule for one record) " +
				"lets the caller see at the time of the event, without hidden fields. Comments keep an idle stream alive. " +
				"The stream ends when the caller's credential is revoked, or when it falls too far behind: reconnect with Last-Event-ID. " +
				"With channel=, frames without an id: `event: joined` (`channel`, `key`, `presence`), `event: broadcast` " +
				"(`channel`, `event`, `data`, `from`), `event: presence` (`channel`, `op` join|leave, `key`, `kind`, `id`, `meta`, `since`) " +
				"and `event: left` (`channel`, `status`, `code`, `detail`: the caller may no longer use the channel).",
				"content": oaContent("text/event-stream", oaType("string"))}}}.build()},
		"/api/realtime/ws": oaMap{"get": oaOp{id: "realtimeWebSocket", summary: "Follow changes over a WebSocket", tag: "Realtime", anonymous: true,
			params: []string{"WSSubscribe", "RealtimeFilter", "RealtimeAfter", "Ticket"}, errs: []int{400, 404, 429},
			ok: oaMap{"101": oaMap{"description": "The connection is a WebSocket of JSON text messages (docs/api.md, Realtime over WebSocket). " +
				"The client sends `{\"type\":\"subscribe\",\"subscribe\":[...],\"filter\",\"after\"}`, `{\"type\":\"unsubscribe\",\"subscribe\":[...]}` " +
				"and `{\"type\":\"ping\"}`, each with an optional `id` echoed in the answer. The server sends `subscribed` (every subscription held), " +
				"`event` (`position`, `collection`, `op`, `time`, `record`, as on the SSE route), `pong`, `error` (`status`, `code`, `detail`, `errors`: " +
				"a refused message; the connection stays open) and, before it closes, `end` (`reason`, `position`: resume with after). " +
				"after is honoured with the connection's first subscription only. " +
				"Channels: `{\"type\":\"join\",\"channel\",\"presence\"}` (answered `joined`), `{\"type\":\"leave\",\"channel\"}` (answered `left`) and " +
				"`{\"type\":\"broadcast\",\"channel\",\"event\",\"data\"}` (answered `sent` when it has an id); the server sends `broadcast`, " +
				"`presence` and `left` messages with the fields of the SSE frames. Handshakes the WebSocket layer refuses " +
				"(426 not an upgrade, 403 an Origin outside --cors-origins) are answered in plain text."}}}.build()},
		"/api/realtime/broadcast": oaMap{"post": oaOp{id: "realtimeBroadcast", summary: "Send a message to a channel's members", tag: "Realtime", anonymous: true,
			body: "Broadcast", errs: []int{400, 404, 413, 415},
			ok: oaMap{"202": oaMap{"description": "Sent to the channel's current members on every server, best effort: never stored, " +
				"so members who are away miss it. A record's channel (docs/ID) is open to those its view rule lets see the record (404 otherwise, " +
				"as reading it would answer); a collection's channel to those its list rule admits whatever the record."}}}.build()},
		"/api/realtime/presence": oaMap{"get": oaOp{id: "realtimePresence", summary: "List who is in a channel", tag: "Realtime", anonymous: true,
			params: []string{"Channel"}, errs: []int{400, 404},
			ok: oaMap{"200": oaJSONResponse("The connections present in the channel on every server, oldest first (at most 1000).", "PresenceList", "Cache-Control")}}.build()},
		"/api/realtime/tickets": oaMap{"post": oaOp{id: "realtimeTicket", summary: "Get a one-use ticket for a realtime stream", tag: "Realtime",
			ok: oaMap{"201": oaJSONResponse("A ticket for ?ticket= on /api/realtime, good once within a minute, standing for the caller.", "Ticket", "Cache-Control")}}.build()},
		"/api/collections": oaMap{
			"get": oaOp{id: "collectionsList", summary: "List the collections", tag: "Collections",
				ok: oaMap{"200": oaJSONResponse("Every collection, by name.", "CollectionList")}}.build(),
			"post": oaOp{id: "collectionCreate", summary: "Create a collection", tag: "Collections", body: "CollectionCreate",
				errs: []int{400, 409, 413, 415},
				ok:   oaMap{"201": oaJSONResponse("The collection was created.", "Collection", "Location")}}.build(),
		},
		"/api/collections/{name}": oaMap{
			"parameters": []any{oaRef("parameters", "CollectionName")},
			"get": oaOp{id: "collectionGet", summary: "Get a collection's definition", tag: "Collections", errs: []int{404},
				ok: oaMap{"200": oaJSONResponse("The collection.", "Collection")}}.build(),
			"patch": oaOp{id: "collectionUpdate", summary: "Change a collection's fields and indexes", tag: "Collections", body: "CollectionPatch",
				errs: []int{400, 404, 409, 413, 415, 422},
				ok:   oaMap{"200": oaJSONResponse("The collection after the change.", "Collection")}}.build(),
			"delete": oaOp{id: "collectionDelete", summary: "Delete a collection and all its records", tag: "Collections", errs: []int{404},
				ok: oaMap{"204": oaMap{"description": "The collection is gone."}}}.build(),
		},
	}
	maps.Copy(paths, oaRecordPaths(oaRecordAPI{
		path: "/api/collections/{name}/records", params: []any{oaRef("parameters", "CollectionName")}, tag: "Records",
		noun: "a collection", ops: [5]string{"recordsList", "recordCreate", "recordGet", "recordUpdate", "recordDelete"},
		record: "Record", input: "RecordValues", patch: "RecordValues", page: "RecordPage",
	}))
	return paths
}

// oaRecordAPI names the parts of one set of record paths.
type oaRecordAPI struct {
	path   string    // of the list
	params []any     // path parameters of the list path
	tag    string    // of every operation
	noun   string    // the collection in summaries
	ops    [5]string // operation ids: list, create, get, update, delete

	record, input, patch, page string // schema names
}

func oaCollectionRecordAPI(c *basalt.Collection, n string) oaRecordAPI {
	return oaRecordAPI{
		path: "/api/collections/" + c.Name + "/records", tag: c.Name, noun: c.Name,
		ops:    [5]string{"list" + n, "create" + n, "get" + n, "update" + n, "delete" + n},
		record: n + "Record", input: n + "RecordInput", patch: n + "RecordPatch", page: n + "RecordPage",
	}
}

// oaRecordPaths are the list and the single-record paths of a.
func oaRecordPaths(a oaRecordAPI) oaMap {
	list := oaMap{
		"get": oaOp{id: a.ops[0], summary: "List records of " + a.noun, tag: a.tag, anonymous: true,
			params: []string{"Filter", "Sort", "Limit", "Cursor", "Fields", "Count"}, errs: []int{400, 404},
			ok: oaMap{"200": oaJSONResponse("One page of records.", a.page)}}.build(),
		"post": oaOp{id: a.ops[1], summary: "Create a record in " + a.noun, tag: a.tag, body: a.input, anonymous: true,
			errs: []int{400, 404, 409, 413, 415},
			ok:   oaMap{"201": oaJSONResponse("The record was created.", a.record, "ETag", "Location")}}.build(),
	}
	one := oaMap{
		"parameters": append(slices.Clone(a.params), oaRef("parameters", "RecordID")),
		"get": oaOp{id: a.ops[2], summary: "Get a record of " + a.noun, tag: a.tag, anonymous: true,
			params: []string{"Fields", "IfNoneMatch"}, errs: []int{400, 404},
			ok: oaMap{
				"200": oaJSONResponse("The record.", a.record, "ETag"),
				"304": oaWithHeaders(oaMap{"description": "The record still has the ETag given in If-None-Match."}, []string{"ETag"}),
			}}.build(),
		"patch": oaOp{id: a.ops[3], summary: "Update fields of a record of " + a.noun, tag: a.tag, body: a.patch, anonymous: true,
			params: []string{"IfMatch"}, errs: []int{400, 404, 409, 412, 413, 415},
			ok: oaMap{"200": oaJSONResponse("The record after the update.", a.record, "ETag")}}.build(),
		"delete": oaOp{id: a.ops[4], summary: "Delete a record of " + a.noun, tag: a.tag, anonymous: true,
			params: []string{"IfMatch"}, errs: []int{400, 404, 412},
			ok: oaMap{"204": oaMap{"description": "The record is gone."}}}.build(),
	}
	if len(a.params) > 0 {
		list["parameters"] = slices.Clone(a.params)
	}
	return oaMap{a.path: list, a.path + "/{id}": one}
}

// ---- parameters, headers, responses ----

func oaParameters() oaMap {
	query := func(name, desc string, schema oaMap) oaMap {
		return oaMap{"name": name, "in": "query", "description": desc, "schema": schema}
	}
	header := func(name, desc string) oaMap {
		return oaMap{"name": name, "in": "header", "description": desc, "schema": oaType("string")}
	}
	path := func(name, desc string, schema oaMap) oaMap {
		return oaMap{"name": name, "in": "path", "required": true, "description": desc, "schema": schema}
	}
	return oaMap{
		"CollectionName": path("name", "The collection's name.", oaName(basalt.MaxCollectionName)),
		"RecordID":       path("id", "The record's id.", oaMap{"type": "string", "pattern": recordIDPattern}),
		"SessionID":      path("id", "The session's id, as GET /api/auth/sessions lists it.", oaType("string")),
		"TenantID":       path("id", "The tenant's id.", oaType("string")),
		"MemberUser":     path("user", "The member's user id.", oaType("string")),
		"RoleName":       path("name", "The custom role's name.", oaName(63)),
		"InviteID":       path("invite", "The invitation's id.", oaType("string")),
		"KeyID":          path("id", "The key's id, as GET /api/keys lists it (its public prefix).", oaType("string")),
		"InviteToken": oaMap{"name": "token", "in": "query", "required": true, "schema": oaType("string"),
			"description": "The token of the invitation link, bsi_..."},
		"AuditAfter": query("after", "Return entries after this id (0: from the start).",
			oaMap{"type": "integer", "format": "int64", "minimum": 0, "default": 0}),
		"AuditLimit": query("limit", "Entries per page.", oaMap{"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
		"MailedToken": oaMap{"name": "token", "in": "query", "required": true, "schema": oaType("string"),
			"description": "The token of the mailed link, bse_..."},
		"Filter": oaMap{"example": `views > 500 && (title ~ "go" || draft = false)`, "name": "filter", "in": "query", "schema": oaType("string"),
			"description": "Keeps the records the expression holds for. Operators `= != > >= < <= ~` (contains) `!~`, `&&`, `||`, `!`, " +
				"parentheses; literals \"text\", numbers, true, false, null, and @now."},
		"Sort": oaMap{"example": "-views,title", "name": "sort", "in": "query", "schema": oaType("string"),
			"description": "Up to 8 comma-separated fields to order by; a leading minus sorts descending."},
		"Limit":  query("limit", "Records per page.", oaMap{"type": "integer", "minimum": 1, "maximum": records.MaxLimit, "default": records.DefaultLimit}),
		"Cursor": query("cursor", "The next_cursor of the previous page.", oaType("string")),
		"Fields": oaMap{"example": "id,title", "name": "fields", "in": "query", "schema": oaType("string"),
			"description": "Comma-separated fields to return; the others are left out of each record."},
		"Count": query("count", "true adds total to the page: how many records match the filter and the access rules, on all pages together. "+
			"Without it no count is made, which costs a pass over every match.", oaMap{"type": "boolean", "default": false}),
		"IfNoneMatch": header("If-None-Match", "ETags the client has; a match answers 304 without a body."),
		"IfMatch":     header("If-Match", "The ETag the client last read; the write fails with 412 if the record has changed since."),
		"Subscribe": oaMap{"example": "posts,comments/01j9z3k4m5n6p7q8r9s0t1v2w3", "name": "subscribe", "in": "query", "schema": oaType("string"),
			"description": "Comma-separated collections, or collection/id for one record, to follow (at most 32 with the channels). Required without channel."},
		"Channels": oaMap{"example": "docs/01j9z3k4m5n6p7q8r9s0t1v2w3", "name": "channel", "in": "query", "schema": oaType("string"),
			"description": "Comma-separated channels to join for broadcasts and presence: a collection, or collection/id for a record's."},
		"Presence": oaMap{"example": `{"name":"Ada"}`, "name": "presence", "in": "query", "schema": oaType("string"),
			"description": "A JSON object of at most 1 KiB: the connection is present in each channel it joins, with this as its meta."},
		"Channel": oaMap{"example": "docs/01j9z3k4m5n6p7q8r9s0t1v2w3", "name": "channel", "in": "query", "required": true, "schema": oaType("string"),
			"description": "A channel: a collection, or collection/id for a record's."},
		"WSSubscribe": oaMap{"example": "posts,comments/01j9z3k4m5n6p7q8r9s0t1v2w3", "name": "subscribe", "in": "query", "schema": oaType("string"),
			"description": "Comma-separated collections, or collection/id for one record, to follow from the start; more can be added with subscribe messages (at most 32 in all)."},
		"RealtimeFilter": oaMap{"name": "filter", "in": "query", "schema": oaType("string"),
			"description": "A filter every subscribed collection's events must meet, in the filter language of lists."},
		"RealtimeAfter": query("after", "Resume after this position: every later event is replayed from the log, then the stream goes live. Without it (and without Last-Event-ID) the stream starts live.",
			oaMap{"type": "integer", "format": "int64", "minimum": 0}),
		"LastEventID": header("Last-Event-ID", "The id of the last event received; EventSource sends it when it reconnects. Takes precedence over after."),
		"Ticket":      query("ticket", "A ticket from POST /api/realtime/tickets, for clients that cannot send Authorization (a browser's EventSource).", oaType("string")),
		"EventsAfter": query("after", "Return events after this position (0: from the start).",
			oaMap{"type": "integer", "format": "int64", "minimum": 0, "default": 0}),
		"EventsLimit": query("limit", "Events per page.", oaMap{"type": "integer", "minimum": 1, "maximum": maxEventLimit, "default": defaultEventLimit}),
	}
}

func oaHeaders() oaMap {
	return oaMap{
		"ETag":                oaMap{"description": "The entity tag of this state of the record, for If-Match and If-None-Match.", "schema": oaType("string")},
		"Location":            oaMap{"description": "The URL of the created resource.", "schema": oaMap{"type": "string", "format": "uri-reference"}},
		"WWW-Authenticate":    oaMap{"description": "The authentication scheme to use.", "schema": oaType("string")},
		"Retry-After":         oaMap{"description": "Seconds to wait before trying again.", "schema": oaMap{"type": "integer", "minimum": 0}},
		"Content-Disposition": oaMap{"description": "Names the file to save the export as.", "schema": oaType("string")},
		"Cache-Control": oaMap{"description": "no-store on responses that hold secrets; the key set may be cached for a few minutes.",
			"schema": oaType("string")},
	}
}

// oaProblem is a common problem response.
type oaProblem struct {
	status int
	name   string
	desc   string
}

func oaProblems() []oaProblem {
	return []oaProblem{
		{400, "BadRequest", "The request is malformed or invalid; `errors` names each invalid part."},
		{401, "Unauthorized", "No credentials, or credentials that are not valid."},
		{403, "Forbidden", "The credentials do not allow this."},
		{404, "NotFound", "No such collection, record or session, or a mailed link that is not valid any more."},
		{409, "Conflict", "A unique value is taken, or the current state forbids the change."},
		{412, "PreconditionFailed", "If-Match does not match the current ETag."},
		{413, "ContentTooLarge", "The request body is too large."},
		{415, "UnsupportedMediaType", "The body is not sent as JSON (Content-Type: application/json, UTF-8)."},
		{422, "Unprocessable", "The request is well-formed but cannot be carried out."},
		{429, "TooManyRequests", "Too many attempts, such as failed sign-ins: wait the seconds of Retry-After."},
		{500, "InternalError", "A fault of the server; the problem's request_id finds it in the log."},
		{503, "Unavailable", "The server cannot serve requests now: it is not ready, shutting down, or overloaded (code overloaded, with Retry-After)."},
	}
}

// oaProblemName is the response component of a problem status; "Error"
// for one without its own.
func oaProblemName(status int) string {
	for _, p := range oaProblems() {
		if p.status == status {
			return p.name
		}
	}
	return "Error"
}

func oaResponses() oaMap {
	problem := func(desc string) oaMap {
		return oaMap{"description": desc, "content": oaContent("application/problem+json", oaSchemaRef("Problem"))}
	}
	out := oaMap{"Error": problem("Any other problem, such as 405, 406 or 504, or 503 overloaded with Retry-After when the server sheds load.")}
	for _, p := range oaProblems() {
		out[p.name] = problem(p.desc)
	}
	out["Unauthorized"].(oaMap)["headers"] = oaMap{"WWW-Authenticate": oaRef("headers", "WWW-Authenticate")}
	out["TooManyRequests"].(oaMap)["headers"] = oaMap{"Retry-After": oaRef("headers", "Retry-After")}
	out["Unavailable"].(oaMap)["headers"] = oaMap{"Retry-After": oaRef("headers", "Retry-After")}
	return out
}

// ---- schemas ----

// oaBaseSchemas are the schemas that do not depend on the live collections.
func oaBaseSchemas() oaMap {
	name := func() oaMap { return oaName(basalt.MaxFieldName) }
	collName := func() oaMap { return oaName(basalt.MaxCollectionName) }
	fields := func() oaMap {
		return oaMap{"type": "array", "items": oaSchemaRef("Field"), "maxItems": basalt.MaxFields}
	}
	indexes := func() oaMap {
		return oaMap{"type": "array", "items": oaSchemaRef("Index"), "maxItems": basalt.MaxIndexes}
	}
	return oaMap{
		"Problem": oaObject(oaMap{
			"type":       oaMap{"type": "string", "format": "uri", "description": "Identifies the kind of problem: " + ProblemTypeBase + "<code>."},
			"title":      oaDesc(oaType("string"), "A short summary of the kind of problem."),
			"status":     oaMap{"type": "integer", "minimum": 400, "maximum": 599},
			"code":       oaDesc(oaType("string"), "The stable, machine-readable error class, such as validation, not_found or conflict."),
			"detail":     oaDesc(oaType("string"), "What went wrong in this request, and how to fix it."),
			"instance":   oaDesc(oaType("string"), "The path of the request."),
			"request_id": oaDesc(oaType("string"), "The id of the request in the server's log (also the X-Request-Id header)."),
			"errors":     oaArray(oaSchemaRef("FieldError")),
		}, "type", "title", "status", "code", "detail", "instance"),
		"FieldError": oaObject(oaMap{
			"field":   oaDesc(oaType("string"), "The invalid part of the request, such as title or fields[0].name."),
			"code":    oaDesc(oaType("string"), "Why it is invalid, such as required, type or unknown_field."),
			"message": oaType("string"),
		}, "field", "code", "message"),
		"Field": oaClosed(oaObject(oaMap{
			"name":     name(),
			"type":     oaMap{"type": "string", "enum": []any{"text", "number", "bool", "date", "json"}},
			"required": oaDesc(oaMap{"type": "boolean", "default": false}, "A record must have a value (non-empty text); it cannot be set to null."),
			"unique":   oaDesc(oaMap{"type": "boolean", "default": false}, "No two records share a value. Not for json fields."),
			"default":  oaDesc(oaMap{}, "The value of a new record that does not give one."),
		}, "name", "type")),
		"Index": oaClosed(oaObject(oaMap{
			"name":   oaDesc(name(), "Derived from the fields when left out."),
			"fields": oaMap{"type": "array", "items": oaType("string"), "minItems": 1, "maxItems": basalt.MaxIndexFields},
			"unique": oaMap{"type": "boolean", "default": false},
		}, "fields")),
		"Collection": oaObject(oaMap{
			"name": collName(), "fields": fields(), "indexes": indexes(), "created": oaDateTime(), "updated": oaDateTime(),
		}, "name", "fields", "indexes", "created", "updated"),
		"CollectionList": oaObject(oaMap{"items": oaArray(oaSchemaRef("Collection"))}, "items"),
		"CollectionCreate": oaClosed(oaObject(oaMap{
			"name": collName(), "fields": fields(), "indexes": indexes(),
		}, "name")),
		"CollectionPatch": oaDesc(oaClosed(oaObject(oaMap{
			"name":    oaDesc(collName(), "Must equal the current name: a collection cannot be renamed."),
			"fields":  oaDesc(fields(), "The complete new list: a field left out is dropped with its data."),
			"indexes": oaDesc(indexes(), "The complete new list of indexes."),
			"rename":  oaDesc(oaMap{"type": "object", "additionalProperties": name()}, "Old field name to new; applies first, so data moves with the field."),
		})), "A change of definition. A field's type cannot change."),
		"Event": oaObject(oaMap{
			"position":   oaMap{"type": "integer", "format": "int64"},
			"tenant":     oaDesc(oaType("string"), "Empty for schema events."),
			"collection": oaType("string"),
			"record_id":  oaType("string"),
			"op":         oaMap{"type": "string", "enum": []any{"create", "update", "delete", "schema"}},
			"record":     oaDesc(oaMap{}, "The record after the change (a collection for schema events); null after a delete."),
			"time":       oaDateTime(),
		}, "position", "tenant", "collection", "record_id", "op", "record", "time"),
		"EventPage": oaObject(oaMap{
			"items":      oaArray(oaSchemaRef("Event")),
			"next_after": oaDesc(oaMap{"type": "integer", "format": "int64"}, "Pass as after to read on."),
		}, "items", "next_after"),
		"Status": oaObject(oaMap{"status": oaType("string")}, "status"),
		"Record": oaDesc(oaMap{"type": "object", "properties": oaSystemFields(), "additionalProperties": true},
			"A record of any collection: the system fields and the collection's fields."),
		"RecordValues": oaDesc(oaMap{"type": "object", "additionalProperties": true},
			"Field values by name. On create, id may be given."),
		"RecordPage": oaPage("Record"),
	}
}

// oaName is the schema of a collection, field or index name.
func oaName(maxLength int) oaMap {
	return oaMap{"type": "string", "pattern": `^[a-z][a-z0-9_]*$`, "maxLength": maxLength}
}

// oaSystemFields are the properties every record has.
func oaSystemFields() oaMap {
	return oaMap{
		"id":      oaMap{"type": "string", "pattern": recordIDPattern},
		"created": oaDateTime(),
		"updated": oaDateTime(),
	}
}

// oaPage is a page of records of the named schema.
func oaPage(record string) oaMap {
	return oaObject(oaMap{
		"items":       oaArray(oaSchemaRef(record)),
		"next_cursor": oaDesc(oaNullable(oaType("string")), "Pass as cursor for the next page; null on the last page."),
		"total":       oaDesc(oaMap{"type": "integer", "format": "int64", "minimum": 0}, "With count=true: how many records match the filter and the access rules, on all pages together."),
	}, "items", "next_cursor")
}

// oaCollectionSchemas are the typed schemas of collection c, named n.
func oaCollectionSchemas(c *basalt.Collection, n string) oaMap {
	record := oaSystemFields()
	input := oaMap{"id": oaDesc(oaMap{"type": "string", "pattern": recordIDPattern}, "Chosen by the server when left out.")}
	patch := oaMap{}
	var required []string
	for i := range c.Fields {
		f := &c.Fields[i]
		record[f.Name] = oaValue(f)
		input[f.Name] = oaInputValue(f, true)
		patch[f.Name] = oaInputValue(f, false)
		if f.Required && len(f.Default) == 0 {
			required = append(required, f.Name)
		}
	}
	return oaMap{
		n + "Record": oaDesc(oaObject(record),
			"A record of "+c.Name+". Every property is present unless the fields parameter leaves it out."),
		n + "RecordInput": oaDesc(oaClosed(oaObject(input, required...)), "A new record of "+c.Name+"."),
		n + "RecordPatch": oaDesc(oaClosed(oaObject(patch)), "The fields of a "+c.Name+" record to change."),
		n + "RecordPage":  oaPage(n + "Record"),
	}
}

// oaValue is the schema of a value of field f as the server writes it.
func oaValue(f *basalt.Field) oaMap {
	var s oaMap
	switch f.Type {
	case basalt.TypeText:
		s = oaType("string")
	case basalt.TypeNumber:
		s = oaType("number")
	case basalt.TypeBool:
		s = oaType("boolean")
	case basalt.TypeDate:
		s = oaDateTime()
	default: // json, and types this version does not know
		return oaMap{"description": "Any JSON value."}
	}
	if !f.Required {
		s = oaNullable(s)
	}
	if f.Unique {
		s["description"] = "Unique within the collection."
	}
	return s
}

// oaInputValue is the schema of a value of field f in a request body.
// Required text cannot be empty; a default applies on create.
func oaInputValue(f *basalt.Field, create bool) oaMap {
	s := oaValue(f)
	if f.Required && f.Type == basalt.TypeText {
		s["minLength"] = 1
	}
	if f.Type == basalt.TypeDate {
		s["description"] = strings.TrimSpace(oaString(s["description"]) + " RFC 3339, or a date alone for midnight UTC.")
	}
	if create && len(f.Default) > 0 && json.Valid(f.Default) {
		s["default"] = json.RawMessage(f.Default)
	}
	return s
}

func oaString(v any) string {
	s, _ := v.(string)
	return s
}

// ---- accounts ----

// oaAuthPaths are the routes of user accounts: sign-up and sign-in,
// tokens, sessions, mailed links, second factors and the key set.
func oaAuthPaths() oaMap {
	const tag = "Tokens"
	tokens := func(desc string) oaMap { return oaJSONResponse(desc, "TokenPair", "Cache-Control") }
	done := func(desc string) oaMap { return oaMap{"description": desc} }
	return oaMap{
		"/api/auth/signup": oaMap{"post": oaOp{id: "accountSignup", summary: "Create an account and sign it in", tag: tag, public: true,
			body: "SignupInput", errs: []int{400, 409, 413, 415},
			ok: oaMap{"201": tokens("The account exists and is signed in, as a member of the server's sign-up tenant if it has one.")}}.build()},
		"/api/auth/login": oaMap{"post": oaOp{id: "accountLogin", summary: "Sign in with email and password", tag: tag, public: true,
			body: "LoginInput", errs: []int{400, 401, 403, 413, 415, 429},
			ok: oaMap{"200": tokens("Signed in. A wrong email or password is 401, the same for both; after repeated failures " +
				"the next attempts are 429 with Retry-After, and the account may be locked until its mailed link lifts the lock.")}}.build()},
		"/api/auth/refresh": oaMap{"post": oaOp{id: "tokensRefresh", summary: "Exchange a refresh token for new tokens", tag: tag, public: true,
			body: "RefreshInput", errs: []int{400, 401, 413, 415},
			ok: oaMap{"200": tokens("A new pair; the refresh token sent is spent. Sending a spent one again is 401 and revokes its session.")}}.build()},
		"/api/auth/logout": oaMap{"post": oaOp{id: "sessionLogout", summary: "Sign out: revoke the caller's session", tag: tag,
			ok: oaMap{"204": done("The session is revoked; its access and refresh tokens no longer work.")}}.build()},
		"/api/auth/me": oaMap{"get": oaOp{id: "accountMe", summary: "Describe the signed-in user", tag: tag,
			ok: oaMap{"200": oaJSONResponse("The user, the tenant and role it acts with, and the tenants it belongs to.", "Me")}}.build()},
		"/api/auth/switch": oaMap{"post": oaOp{id: "sessionSwitch", summary: "Act in another tenant", tag: tag,
			body: "SwitchInput", errs: []int{400, 404, 413, 415},
			ok: oaMap{"200": tokens("Tokens acting in the tenant; the session's earlier refresh tokens are spent. 403 if the user is not a member.")}}.build()},
		"/api/auth/sessions": oaMap{"get": oaOp{id: "sessionsList", summary: "List the signed-in user's sessions", tag: tag,
			ok: oaMap{"200": oaJSONResponse("The live sessions, newest first.", "SessionList")}}.build()},
		"/api/auth/sessions/{id}": oaMap{
			"parameters": []any{oaRef("parameters", "SessionID")},
			"delete": oaOp{id: "sessionRevoke", summary: "Revoke one of the user's sessions", tag: tag, errs: []int{404},
				ok: oaMap{"204": done("The session is revoked.")}}.build(),
		},
		"/api/auth/password": oaMap{"post": oaOp{id: "passwordChange", summary: "Change the password", tag: tag,
			body: "PasswordChange", errs: []int{400, 413, 415},
			ok: oaMap{"204": done("The password is changed and every other session of the user is revoked.")}}.build()},
		"/api/auth/verify": oaMap{
			"get": oaOp{id: "emailVerifyLink", summary: "Verify the email address: the mailed link", tag: tag, public: true,
				params: []string{"MailedToken"}, errs: []int{404},
				ok: oaMap{"200": oaJSONResponse("The address is verified.", "Verified")}}.build(),
			"post": oaOp{id: "emailVerify", summary: "Verify the email address with the mailed token", tag: tag, public: true,
				body: "TokenInput", errs: []int{400, 404, 413, 415},
				ok: oaMap{"200": oaJSONResponse("The address is verified.", "Verified")}}.build(),
		},
		"/api/auth/verify/request": oaMap{"post": oaOp{id: "emailVerifyRequest", summary: "Mail a new verification link", tag: tag,
			errs: []int{409, 422},
			ok:   oaMap{"202": done("The link is on its way. 409 if the address is verified, 422 if the server sends no mail.")}}.build()},
		"/api/auth/reset/request": oaMap{"post": oaOp{id: "passwordResetRequest", summary: "Mail a password reset link", tag: tag, public: true,
			body: "EmailInput", errs: []int{400, 413, 415, 422},
			ok: oaMap{"202": done("If an account has this address, the link is on its way; the answer is the same if none has.")}}.build()},
		"/api/auth/reset": oaMap{
			"get": oaOp{id: "passwordResetLink", summary: "Check a password reset link without using it", tag: tag, public: true,
				params: []string{"MailedToken"}, errs: []int{404},
				ok: oaMap{"200": oaJSONResponse("The token, and how to use it.", "ResetLink")}}.build(),
			"post": oaOp{id: "passwordReset", summary: "Set a new password with the mailed token", tag: tag, public: true,
				body: "ResetInput", errs: []int{400, 404, 413, 415},
				ok: oaMap{"204": done("The password is set, every session of the user is revoked, and a sign-in lock is lifted.")}}.build(),
		},
		"/api/auth/unlock": oaMap{
			"get": oaOp{id: "signinUnlockLink", summary: "Lift a sign-in lock: the mailed link", tag: tag, public: true,
				params: []string{"MailedToken"}, errs: []int{404},
				ok: oaMap{"200": oaJSONResponse("Sign-in works again.", "Unlocked")}}.build(),
			"post": oaOp{id: "signinUnlock", summary: "Lift a sign-in lock with the mailed token", tag: tag, public: true,
				body: "TokenInput", errs: []int{400, 404, 413, 415},
				ok: oaMap{"200": oaJSONResponse("Sign-in works again.", "Unlocked")}}.build(),
		},
		"/api/auth/totp/setup": oaMap{"post": oaOp{id: "totpSetup", summary: "Start setting up a second factor (TOTP)", tag: tag,
			errs: []int{409},
			ok:   oaMap{"200": oaJSONResponse("A new secret; it takes effect when enable confirms a code from it.", "TOTPSetup", "Cache-Control")}}.build()},
		"/api/auth/totp/enable": oaMap{"post": oaOp{id: "totpEnable", summary: "Turn the second factor on", tag: tag,
			body: "TOTPCode", errs: []int{400, 409, 413, 415},
			ok: oaMap{"200": oaJSONResponse("The second factor is on. The recovery codes are shown this once.", "RecoveryCodes", "Cache-Control")}}.build()},
		"/api/auth/totp/disable": oaMap{"post": oaOp{id: "totpDisable", summary: "Turn the second factor off", tag: tag,
			body: "PasswordInput", errs: []int{400, 413, 415},
			ok: oaMap{"204": done("The second factor is off.")}}.build()},
		"/.well-known/jwks.json": oaMap{"get": oaOp{id: "jwksGet", summary: "Read the keys that verify access tokens", tag: tag, public: true,
			ok: oaMap{"200": oaMap{"description": "The public keys as a JSON Web Key Set (RFC 7517, Ed25519 keys of RFC 8037).",
				"content": oaContent("application/json", oaSchemaRef("JWKS")), "headers": oaMap{"Cache-Control": oaRef("headers", "Cache-Control")}}}}.build()},
	}
}

// oaAuthSchemas are the bodies of the account routes.
func oaAuthSchemas() oaMap {
	str := func(desc string) oaMap { return oaDesc(oaType("string"), desc) }
	newPassword := func() oaMap {
		return oaDesc(oaMap{"type": "string", "minLength": 8},
			"At least 8 characters and at most 256 bytes; not a common password, and not containing the email's name part.")
	}
	user := func() oaMap {
		return oaMap{
			"id":           oaType("string"),
			"email":        oaDesc(oaMap{"type": "string", "format": "email"}, "In lower case."),
			"name":         oaType("string"),
			"verified":     oaDesc(oaType("boolean"), "The address is confirmed by a mailed link."),
			"totp_enabled": oaDesc(oaType("boolean"), "Sign-in needs a second-factor code."),
			"created":      oaDateTime(),
		}
	}
	userFields := []string{"id", "email", "name", "verified", "totp_enabled", "created"}
	me := user()
	maps.Copy(me, oaMap{
		"tenant":  str("The tenant the session acts in; empty for none."),
		"role":    str("The user's role in that tenant: owner, admin, member or a custom role; empty without a tenant."),
		"session": str("The id of the session."),
		"tenants": oaArray(oaObject(oaMap{"tenant": oaType("string"), "role": oaType("string")}, "tenant", "role")),
	})
	return oaMap{
		"SignupInput": oaClosed(oaObject(oaMap{
			"email":    oaMap{"type": "string", "format": "email", "maxLength": 254},
			"password": newPassword(),
			"name":     oaDesc(oaMap{"type": "string", "maxLength": 200}, "A display name."),
		}, "email", "password")),
		"LoginInput": oaClosed(oaObject(oaMap{
			"email":    oaType("string"),
			"password": oaType("string"),
			"tenant":   str("The tenant to act in; by default the first the user joined, or none."),
			"totp":     str("The code of the authenticator app, or a recovery code, when the account has a second factor."),
		}, "email", "password")),
		"RefreshInput":   oaClosed(oaObject(oaMap{"refresh_token": str("A refresh token, bsr_...")}, "refresh_token")),
		"SwitchInput":    oaClosed(oaObject(oaMap{"tenant": str("A tenant the user is a member of; empty for none.")}, "tenant")),
		"PasswordChange": oaClosed(oaObject(oaMap{"current_password": oaType("string"), "new_password": newPassword()}, "current_password", "new_password")),
		"TokenInput":     oaClosed(oaObject(oaMap{"token": str("The token of the mailed link, bse_...")}, "token")),
		"EmailInput":     oaClosed(oaObject(oaMap{"email": oaMap{"type": "string", "format": "email"}}, "email")),
		"ResetInput":     oaClosed(oaObject(oaMap{"token": str("The token of the mailed link, bse_..."), "password": newPassword()}, "token", "password")),
		"TOTPCode":       oaClosed(oaObject(oaMap{"code": str("The current code of the authenticator app.")}, "code")),
		"PasswordInput":  oaClosed(oaObject(oaMap{"password": str("The user's password.")}, "password")),
		"User":           oaObject(user(), userFields...),
		"TokenPair": oaObject(oaMap{
			"user":          oaSchemaRef("User"),
			"access_token":  str("A JWT (EdDSA) for Authorization: Bearer; it expires after expires_in seconds."),
			"refresh_token": str("Exchanges once for a new pair at /api/auth/refresh; bsr_..."),
			"token_type":    oaMap{"type": "string", "enum": []any{"Bearer"}},
			"expires_in":    oaDesc(oaMap{"type": "integer", "minimum": 0}, "Seconds until the access token expires."),
			"tenant":        str("The tenant the tokens act in; empty for none."),
			"role":          str("The user's role in that tenant; empty without a tenant."),
		}, "user", "access_token", "refresh_token", "token_type", "expires_in", "tenant", "role"),
		"Me": oaObject(me, append(userFields, "tenant", "role", "session", "tenants")...),
		"Session": oaObject(oaMap{
			"id":         oaType("string"),
			"tenant":     oaType("string"),
			"created":    oaDateTime(),
			"last_used":  oaDesc(oaDateTime(), "The last sign-in, refresh or switch."),
			"expires":    oaDesc(oaDateTime(), "When it ends unless refreshed."),
			"user_agent": oaType("string"),
			"ip":         oaType("string"),
			"current":    oaDesc(oaType("boolean"), "This is the session of the request."),
		}, "id", "tenant", "created", "last_used", "expires", "user_agent", "ip", "current"),
		"SessionList":   oaObject(oaMap{"items": oaArray(oaSchemaRef("Session"))}, "items"),
		"TOTPSetup":     oaObject(oaMap{"secret": str("The base32 secret, for entry by hand."), "otpauth_url": str("The otpauth:// URL, for a QR code.")}, "secret", "otpauth_url"),
		"RecoveryCodes": oaObject(oaMap{"recovery_codes": oaDesc(oaArray(oaType("string")), "Each signs in once in place of a code.")}, "recovery_codes"),
		"Verified":      oaObject(oaMap{"verified": oaMap{"type": "boolean", "const": true}}, "verified"),
		"Unlocked":      oaObject(oaMap{"unlocked": oaMap{"type": "boolean", "const": true}}, "unlocked"),
		"ResetLink":     oaObject(oaMap{"token": oaType("string"), "next": str("What to do with the token.")}, "token", "next"),
		"JWKS": oaObject(oaMap{"keys": oaArray(oaObject(oaMap{
			"kty": oaMap{"type": "string", "const": "OKP"},
			"crv": oaMap{"type": "string", "const": "Ed25519"},
			"x":   str("The public key, base64url without padding."),
			"kid": str("The key id, as in the kid header of the tokens it signed."),
			"alg": oaMap{"type": "string", "const": "EdDSA"},
			"use": oaMap{"type": "string", "const": "sig"},
		}, "kty", "crv", "x", "kid", "alg", "use"))}, "keys"),
	}
}

// ---- tenants ----

// oaTenantPaths are the routes of tenants, members, roles, invitations
// and the audit trail. Their credentials are a user's access token or an
// API key of the tenant.
func oaTenantPaths() oaMap {
	const tag = "Tenants"
	done := func(desc string) oaMap { return oaMap{"description": desc} }
	tenant := []any{oaRef("parameters", "TenantID")}
	return oaMap{
		"/api/tenants": oaMap{
			"get": oaOp{id: "tenantsList", summary: "List the caller's tenants", tag: tag,
				ok: oaMap{"200": oaJSONResponse("The tenants the user belongs to, or the tenant of an API key, with the caller's role.", "TenantList")}}.build(),
			"post": oaOp{id: "tenantCreate", summary: "Create a tenant", tag: tag, body: "TenantInput", errs: []int{400, 413, 415},
				ok: oaMap{"201": oaJSONResponse("The tenant; a user who creates it is its owner.", "Tenant", "Location")}}.build(),
		},
		"/api/tenants/{id}": oaMap{
			"parameters": tenant,
			"get": oaOp{id: "tenantGet", summary: "Get a tenant the caller belongs to", tag: tag, errs: []int{404},
				ok: oaMap{"200": oaJSONResponse("The tenant. 404 for a tenant the caller does not belong to.", "Tenant")}}.build(),
			"patch": oaOp{id: "tenantRename", summary: "Rename a tenant (owners and admins)", tag: tag, body: "TenantInput",
				errs: []int{400, 404, 413, 415},
				ok:   oaMap{"200": oaJSONResponse("The tenant after the change.", "Tenant")}}.build(),
			"delete": oaOp{id: "tenantDelete", summary: "Delete a tenant and all its data (owners)", tag: tag, errs: []int{404, 409},
				ok: oaMap{"204": done("The tenant and its records, events, members, invitations and keys are gone, and the sessions acting in it revoked. The default tenant stays (409).")}}.build(),
		},
		"/api/tenants/{id}/export": oaMap{
			"parameters": tenant,
			"get": oaOp{id: "tenantExport", summary: "Export a tenant's records (owners and admins)", tag: tag, errs: []int{404},
				ok: oaMap{"200": oaMap{"description": "Every record as JSON lines, {\"collection\": name, \"record\": {...}}, collection by collection.",
					"content": oaContent("application/x-ndjson", oaType("string")),
					"headers": oaMap{"Content-Disposition": oaRef("headers", "Content-Disposition"), "Cache-Control": oaRef("headers", "Cache-Control")}}}}.build(),
		},
		"/api/tenants/{id}/usage": oaMap{
			"parameters": tenant,
			"get": oaOp{id: "tenantUsage", summary: "A tenant's usage and quotas (owners, admins and the operator)", tag: tag, errs: []int{403, 404},
				ok: oaMap{"200": oaJSONResponse("Requests this UTC day and month, records and stored bytes, each with its quota (0: unlimited).", "Usage", "Cache-Control")}}.build(),
		},
		"/api/tenants/{id}/quotas": oaMap{
			"parameters": tenant,
			"put": oaOp{id: "tenantQuotasSet", summary: "Set a tenant's quotas (the operator: an admin key with the collections scope)", tag: tag, body: "QuotaInput",
				errs: []int{400, 403, 404, 413, 415},
				ok:   oaMap{"200": oaJSONResponse("The tenant's usage under its new quotas.", "Usage")}}.build(),
		},
		"/api/tenants/{id}/members": oaMap{
			"parameters": tenant,
			"get": oaOp{id: "membersList", summary: "List a tenant's members", tag: tag, errs: []int{404},
				ok: oaMap{"200": oaJSONResponse("The members with their roles.", "MemberList")}}.build(),
		},
		"/api/tenants/{id}/members/{user}": oaMap{
			"parameters": []any{oaRef("parameters", "TenantID"), oaRef("parameters", "MemberUser")},
			"patch": oaOp{id: "memberRoleSet", summary: "Change a member's role (owners and admins)", tag: tag, body: "MemberRole",
				errs: []int{400, 404, 409, 413, 415},
				ok:   oaMap{"204": done("The role is changed and the member's sessions acting in the tenant revoked (their tokens name the old role). Only owners grant or take away ownership; the last owner stays one (409).")}}.build(),
			"delete": oaOp{id: "memberRemove", summary: "Remove a member (owners and admins, or the member)", tag: tag, errs: []int{404, 409},
				ok: oaMap{"204": done("The member is removed and its sessions acting in the tenant are revoked.")}}.build(),
		},
		"/api/tenants/{id}/roles": oaMap{
			"parameters": tenant,
			"get": oaOp{id: "rolesList", summary: "List a tenant's custom roles", tag: tag, errs: []int{404},
				ok: oaMap{"200": oaJSONResponse("The custom roles; owner, admin and member always exist.", "RoleList")}}.build(),
			"post": oaOp{id: "roleCreate", summary: "Define a custom role (owners and admins)", tag: tag, body: "RoleInput",
				errs: []int{400, 404, 409, 413, 415},
				ok:   oaMap{"201": oaJSONResponse("The role, usable in access rules as @auth.role.", "Role")}}.build(),
		},
		"/api/tenants/{id}/roles/{name}": oaMap{
			"parameters": []any{oaRef("parameters", "TenantID"), oaRef("parameters", "RoleName")},
			"delete": oaOp{id: "roleDelete", summary: "Remove a custom role no member holds", tag: tag, errs: []int{404, 409},
				ok: oaMap{"204": done("The role is gone.")}}.build(),
		},
		"/api/tenants/{id}/invites": oaMap{
			"parameters": tenant,
			"get": oaOp{id: "invitesList", summary: "List open invitations (owners and admins)", tag: tag, errs: []int{404},
				ok: oaMap{"200": oaJSONResponse("The invitations not yet accepted or expired.", "InviteList")}}.build(),
			"post": oaOp{id: "inviteCreate", summary: "Invite someone by email (owners and admins)", tag: tag, body: "InviteInput",
				errs: []int{400, 404, 409, 413, 415},
				ok:   oaMap{"201": oaJSONResponse("The invitation, mailed; without mail its link is in accept_url.", "Invite", "Cache-Control")}}.build(),
		},
		"/api/tenants/{id}/invites/{invite}": oaMap{
			"parameters": []any{oaRef("parameters", "TenantID"), oaRef("parameters", "InviteID")},
			"delete": oaOp{id: "inviteWithdraw", summary: "Withdraw an invitation (owners and admins)", tag: tag, errs: []int{404},
				ok: oaMap{"204": done("The invitation no longer works.")}}.build(),
		},
		"/api/invites/accept": oaMap{
			"get": oaOp{id: "inviteAcceptLink", summary: "Accept an invitation: the link", tag: tag, params: []string{"InviteToken"}, errs: []int{404},
				ok: oaMap{"200": oaJSONResponse("The signed-in user, whose email is the invited one, is a member.", "Tenant")}}.build(),
			"post": oaOp{id: "inviteAccept", summary: "Accept an invitation with its token", tag: tag, body: "TokenInput",
				errs: []int{400, 404, 413, 415},
				ok:   oaMap{"200": oaJSONResponse("The signed-in user, whose email is the invited one, is a member.", "Tenant")}}.build(),
		},
		"/api/keys": oaMap{
			"get": oaOp{id: "keysList", summary: "List the tenant's API keys (owners and admins, or a key with the keys scope)", tag: "Keys", errs: []int{404},
				ok: oaMap{"200": oaJSONResponse("The keys, revoked ones too; never their secrets.", "KeyList")}}.build(),
			"post": oaOp{id: "keyCreate", summary: "Create an API key in the caller's tenant", tag: "Keys", body: "KeyInput",
				errs: []int{400, 404, 413, 415},
				ok:   oaMap{"201": oaJSONResponse("The key, with its secret in key: shown this once, stored only as a hash.", "Key", "Cache-Control")}}.build(),
		},
		"/api/keys/{id}": oaMap{
			"parameters": []any{oaRef("parameters", "KeyID")},
			"delete": oaOp{id: "keyRevoke", summary: "Revoke an API key of the caller's tenant", tag: "Keys", errs: []int{404},
				ok: oaMap{"204": done("The key no longer authenticates.")}}.build(),
		},
		"/api/audit": oaMap{"get": oaOp{id: "auditList", summary: "Read the audit trail of the caller's tenant (owners and admins)", tag: tag,
			params: []string{"AuditAfter", "AuditLimit"}, errs: []int{400, 404},
			ok: oaMap{"200": oaJSONResponse("Entries in id order.", "AuditPage")}}.build()},
	}
}

// oaTenantSchemas are the bodies of the tenant routes.
func oaTenantSchemas() oaMap {
	str := func(desc string) oaMap { return oaDesc(oaType("string"), desc) }
	name := func() oaMap { return oaMap{"type": "string", "minLength": 1, "maxLength": 200} }
	return oaMap{
		"TenantInput": oaClosed(oaObject(oaMap{"name": name()}, "name")),
		"Quota": oaObject(oaMap{
			"used":     oaMap{"type": "integer", "minimum": 0},
			"limit":    oaDesc(oaMap{"type": "integer", "minimum": 0}, "0: unlimited."),
			"override": oaDesc(oaType("boolean"), "The operator set this quota for the tenant; otherwise it is the server's default."),
		}, "used", "limit", "override"),
		"Usage": oaObject(oaMap{
			"tenant":         oaType("string"),
			"day":            str("The UTC day of requests_day, YYYY-MM-DD."),
			"month":          str("The UTC month of requests_month, YYYY-MM."),
			"requests_day":   oaSchemaRef("Quota"),
			"requests_month": oaSchemaRef("Quota"),
			"records":        oaSchemaRef("Quota"),
			"bytes":          oaDesc(oaSchemaRef("Quota"), "The bytes of the records' values: text and json by their UTF-8 length, numbers and dates 8, booleans 1."),
		}, "tenant", "day", "month", "requests_day", "requests_month", "records", "bytes"),
		"QuotaInput": oaClosed(oaObject(oaMap{
			"requests_day":   oaDesc(oaMap{"type": []any{"integer", "null"}, "minimum": 0}, "null: the server's default; 0: unlimited."),
			"requests_month": oaDesc(oaMap{"type": []any{"integer", "null"}, "minimum": 0}, "null: the server's default; 0: unlimited."),
			"records":        oaDesc(oaMap{"type": []any{"integer", "null"}, "minimum": 0}, "null: the server's default; 0: unlimited."),
			"bytes":          oaDesc(oaMap{"type": []any{"integer", "null"}, "minimum": 0}, "null: the server's default; 0: unlimited."),
		})),
		"Tenant": oaObject(oaMap{
			"id": oaType("string"), "name": oaType("string"),
			"role":    str("The caller's role: owner, admin, member or a custom role; an API key's role; absent when the tenant was made by a key."),
			"created": oaDateTime(), "updated": oaDateTime(),
		}, "id", "name", "created", "updated"),
		"TenantList": oaObject(oaMap{"items": oaArray(oaSchemaRef("Tenant"))}, "items"),
		"Member": oaObject(oaMap{
			"user": oaType("string"), "email": oaType("string"), "name": oaType("string"), "role": oaType("string"), "created": oaDateTime(),
		}, "user", "email", "name", "role", "created"),
		"MemberList": oaObject(oaMap{"items": oaArray(oaSchemaRef("Member"))}, "items"),
		"MemberRole": oaClosed(oaObject(oaMap{"role": str("owner, admin, member or a custom role of the tenant.")}, "role")),
		"RoleInput":  oaClosed(oaObject(oaMap{"name": oaName(63)}, "name")),
		"Role":       oaObject(oaMap{"name": oaType("string")}, "name"),
		"RoleList":   oaObject(oaMap{"items": oaArray(oaType("string"))}, "items"),
		"InviteInput": oaClosed(oaObject(oaMap{
			"email": oaType("string"),
			"role":  str("The role the invitee gets; member when left out."),
		}, "email")),
		"Invite": oaObject(oaMap{
			"id": oaType("string"), "email": oaType("string"), "role": oaType("string"), "created": oaDateTime(), "expires": oaDateTime(),
			"accept_url": str("The link to hand to the invitee; only when the server sends no mail, and only in the answer to the invitation."),
		}, "id", "email", "role", "created", "expires"),
		"InviteList": oaObject(oaMap{"items": oaArray(oaSchemaRef("Invite"))}, "items"),
		"AuditEntry": oaObject(oaMap{
			"id": oaMap{"type": "integer", "format": "int64"}, "tenant": oaType("string"), "time": oaDateTime(),
			"actor":   str("Who acted: user:<id>, key:<id> or anonymous."),
			"action":  str("What happened, such as member.role or session.create."),
			"target":  str("What it happened to."),
			"ip":      oaType("string"),
			"details": oaDesc(oaMap{}, "Particulars of the action."),
		}, "id", "tenant", "time", "actor", "action", "target", "ip", "details"),
		"KeyInput": oaClosed(oaObject(oaMap{
			"name": name(),
			"role": oaDesc(oaMap{"type": "string", "enum": []any{"admin", "service"}}, "admin: everything in the tenant; service: records."),
			"scopes": oaDesc(oaArray(oaMap{"type": "string", "enum": oaStrings(basalt.RoleScopes(basalt.RoleAdmin))}),
				"Narrow the key to these scopes of its role; left out, the key has all of them."),
			"expires_in": oaDesc(oaMap{"type": "string", "example": "720h"}, "A duration after which the key stops working; left out, it never expires."),
		}, "name", "role")),
		"Key": oaObject(oaMap{
			"id": str("The key's public prefix; safe to log."), "name": oaType("string"), "role": oaType("string"),
			"scopes":  oaArray(oaType("string")),
			"created": oaDateTime(), "expires": oaNullable(oaDateTime()), "revoked": oaNullable(oaDateTime()),
			"key": str("The secret, bsk_...; only in the answer to POST /api/keys."),
		}, "id", "name", "role", "scopes", "created", "expires", "revoked"),
		"KeyList": oaObject(oaMap{"items": oaArray(oaSchemaRef("Key"))}, "items"),
		"Broadcast": oaObject(oaMap{
			"channel": str("The channel: a collection, or collection/id for a record's."),
			"event":   oaDesc(oaMap{"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"}, "What the message is, for the clients: cursor, chat.message."),
			"data":    oaDesc(oaMap{}, "Any JSON, at most 7 KiB without its spaces; left out, null."),
		}, "channel", "event"),
		"PresenceList": oaObject(oaMap{"items": oaArray(oaObject(oaMap{
			"key":   str("The connection's key, as in its presence messages."),
			"kind":  oaDesc(oaMap{"type": "string", "enum": []any{"user", "key", "anonymous"}}, "Who the connection acts as."),
			"id":    oaDesc(oaNullable(oaType("string")), "The user's or key's id; null for anonymous."),
			"meta":  oaDesc(oaType("object"), "What the connection said about itself when it joined."),
			"since": oaDateTime(),
		}, "key", "kind", "id", "meta", "since"))}, "items"),
		"Ticket": oaObject(oaMap{
			"ticket":  str("bst_...: pass as ?ticket= once, within a minute."),
			"expires": oaDateTime(),
		}, "ticket", "expires"),
		"AuditPage": oaObject(oaMap{
			"items":      oaArray(oaSchemaRef("AuditEntry")),
			"next_after": oaDesc(oaMap{"type": "string", "pattern": "^[0-9]+$"}, "Pass as after to read on (a decimal string)."),
		}, "items", "next_after"),
	}
}
