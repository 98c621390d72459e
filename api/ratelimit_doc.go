package api

import (
	"strings"

	"basalt.dev/basalt/ratelimit"
)

// oaRateLimitTag describes the admin API of rate-limit policies.
func oaRateLimitTag() oaMap {
	return oaMap{"name": "Rate limits", "description": "The rate-limit policies in force: those of --rate-limit and those stored here, " +
		"which every node reads and which replace a configured policy of the same name. Admin API keys only; these routes are never limited. " +
		"Limited responses carry RateLimit-Policy and RateLimit (IETF httpapi ratelimit-headers); a refused request is 429 with Retry-After."}
}

// oaRateLimitPaths are the paths of /api/admin/rate-limits.
func oaRateLimitPaths() oaMap {
	const tag = "Rate limits"
	name := oaMap{"name": "name", "in": "path", "required": true, "description": "The policy's name.",
		"schema": oaMap{"type": "string", "pattern": "^[a-z][a-z0-9-]*$", "maxLength": ratelimit.MaxNameLen}}
	done := oaMap{"description": "The stored policy is gone; a configured policy of its name is in force again."}
	return oaMap{
		"/api/admin/rate-limits": oaMap{
			"get": oaOp{id: "rateLimitsList", summary: "List the rate-limit policies in force", tag: tag,
				ok: oaMap{"200": oaJSONResponse("The policies, by name.", "RateLimitList")}}.build(),
			"post": oaOp{id: "rateLimitCreate", summary: "Store a rate-limit policy", tag: tag, body: "RateLimitInput",
				errs: []int{400, 409, 413, 415},
				ok:   oaMap{"201": oaJSONResponse("The policy, in force on this node now and on the others within seconds.", "RateLimit")}}.build(),
		},
		"/api/admin/rate-limits/{name}": oaMap{
			"parameters": []any{name},
			"get": oaOp{id: "rateLimitGet", summary: "Read a rate-limit policy", tag: tag, errs: []int{404},
				ok: oaMap{"200": oaJSONResponse("The policy.", "RateLimit")}}.build(),
			"put": oaOp{id: "rateLimitPut", summary: "Store or replace a rate-limit policy", tag: tag, body: "RateLimitInput",
				errs: []int{400, 413, 415},
				ok: oaMap{"200": oaJSONResponse("The stored policy is replaced.", "RateLimit"),
					"201": oaJSONResponse("The policy is stored.", "RateLimit")}}.build(),
			"delete": oaOp{id: "rateLimitDelete", summary: "Remove a stored rate-limit policy", tag: tag, errs: []int{404, 409},
				ok: oaMap{"204": done}}.build(),
		},
	}
}

// oaRateLimitSchemas are the bodies of the rate-limit routes.
func oaRateLimitSchemas() oaMap {
	enum := func(vs []string, desc string) oaMap {
		return oaDesc(oaMap{"type": "string", "enum": oaStrings(vs)}, desc)
	}
	var bys, classes []string
	for _, b := range ratelimit.Bys {
		bys = append(bys, string(b))
	}
	for _, c := range ratelimit.Classes {
		classes = append(classes, string(c))
	}
	count := func(desc string) oaMap {
		return oaDesc(oaMap{"type": "integer", "minimum": 1, "maximum": ratelimit.MaxQuota}, desc)
	}
	props := func() oaMap {
		return oaMap{
			"name": oaMap{"type": "string", "pattern": "^[a-z][a-z0-9-]*$", "maxLength": ratelimit.MaxNameLen},
			"by":   enum(bys, "What requests are counted by: "+strings.Join(bys, ", ")+"; ip when left out."),
			"class": enum(classes, "The routes it applies to; all when left out. auth covers signin, signup, refresh, "+
				"password reset, unlock and verification; write and read are the other routes by method."),
			"quota":  count("Requests per window."),
			"window": oaDesc(oaMap{"type": "integer", "minimum": 1, "maximum": int64(ratelimit.MaxWindow.Seconds())}, "The window in seconds."),
			"burst":  count("Requests that may come at once; the quota when left out."),
		}
	}
	out := props()
	out["source"] = enum([]string{ratelimit.SourceConfig, ratelimit.SourceAdmin}, "config: from --rate-limit; admin: stored through this API.")
	out["spec"] = oaDesc(oaType("string"), "The policy in the grammar of --rate-limit.")
	return oaMap{
		"RateLimitInput": oaClosed(oaObject(props(), "quota", "window")),
		"RateLimit":      oaObject(out, "name", "by", "class", "quota", "window", "burst", "source", "spec"),
		"RateLimitList":  oaObject(oaMap{"items": oaArray(oaSchemaRef("RateLimit"))}, "items"),
	}
}
