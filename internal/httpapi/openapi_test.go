package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/gate"
	"parkd/internal/live"
	"parkd/internal/notify"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/pass"
	"parkd/internal/payments"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// The tests in this file keep openapi.json true: every route is described,
// every response the handlers give matches its schema, docs/openapi.json is
// the same document, and docs/api.md lists every route and error code.
//
// When a route or a body changes, change openapi.json, copy it to docs/, and
// add the route to TestOpenAPIResponses's flow: every operation must answer a
// success there at least once.

// specDoc is the API description, decoded.
type specDoc map[string]any

func mustSpec(t testing.TB) specDoc {
	t.Helper()
	var doc specDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	return doc
}

// resolve follows a local JSON pointer such as "#/components/schemas/Lot".
func (d specDoc) resolve(ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var v any = map[string]any(d)
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		if v, ok = m[part]; !ok {
			return nil, false
		}
	}
	return v, true
}

// deref returns the object o refers to, or o itself when it is not a reference.
func (d specDoc) deref(o map[string]any) map[string]any {
	for range 10 {
		ref, ok := o["$ref"].(string)
		if !ok {
			return o
		}
		v, _ := d.resolve(ref)
		next, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		o = next
	}
	return o
}

// operation returns the operation object for a method and an OpenAPI path.
func (d specDoc) operation(method, path string) (map[string]any, bool) {
	paths, _ := d["paths"].(map[string]any)
	item, _ := paths[path].(map[string]any)
	op, ok := item[strings.ToLower(method)].(map[string]any)
	return op, ok
}

// parameter returns the operation's parameter of the given name and place.
func (d specDoc) parameter(op map[string]any, in, name string) (map[string]any, bool) {
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		pm, _ := p.(map[string]any)
		pm = d.deref(pm)
		if pm != nil && pm["in"] == in && strings.EqualFold(pm["name"].(string), name) {
			return pm, true
		}
	}
	return nil, false
}

var specMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations lists every documented "METHOD /path".
func (d specDoc) operations() []string {
	var out []string
	paths, _ := d["paths"].(map[string]any)
	for path, item := range paths {
		for _, m := range specMethods {
			if _, ok := item.(map[string]any)[m]; ok {
				out = append(out, strings.ToUpper(m)+" "+path)
			}
		}
	}
	sort.Strings(out)
	return out
}

// specPath turns a ServeMux pattern into its method and OpenAPI path:
// "GET /api/v1/users/{id}" is GET and /api/v1/users/{id}.
func specPath(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return "", pattern
	}
	path = strings.ReplaceAll(path, "...}", "}")
	path = strings.TrimSuffix(path, "{$}")
	return method, path
}

func TestOpenAPIRoutes(t *testing.T) {
	doc := mustSpec(t)
	routes := map[string]bool{}
	for _, pattern := range Routes() {
		method, path := specPath(pattern)
		if method == "" {
			t.Errorf("route %q has no method: every route should name one", pattern)
			continue
		}
		routes[method+" "+path] = true
		if _, ok := doc.operation(method, path); !ok {
			t.Errorf("route %q is not in openapi.json: add paths[%q].%s", pattern, path, strings.ToLower(method))
		}
	}
	for _, op := range doc.operations() {
		if !routes[op] {
			t.Errorf("openapi.json documents %s, which routes.go does not serve", op)
		}
	}
}

func TestOpenAPIDocsCopy(t *testing.T) {
	docs, err := os.ReadFile("../../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(docs, openAPIDocument) {
		t.Errorf("docs/openapi.json differs from internal/httpapi/openapi.json: copy it over (cp internal/httpapi/openapi.json docs/)")
	}
}

// TestOpenAPIGuide checks that docs/api.md lists every route and every error code.
func TestOpenAPIGuide(t *testing.T) {
	guide, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| (GET|POST|PUT|PATCH|DELETE) \\| `([^`]+)` \\|")
	listed := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(guide), -1) {
		listed[m[1]+" "+m[2]] = true
	}
	documented := map[string]bool{}
	for _, op := range mustSpec(t).operations() {
		documented[op] = true
		if !listed[op] {
			t.Errorf("docs/api.md does not list %s in its routes table", op)
		}
	}
	for op := range listed {
		if !documented[op] {
			t.Errorf("docs/api.md lists %s, which openapi.json does not document", op)
		}
	}
	for code, status := range statusOf {
		if want := fmt.Sprintf("| `%s` | %d |", code, status); !strings.Contains(string(guide), want) {
			t.Errorf("docs/api.md's error table lacks %q", want)
		}
	}
}

// TestOpenAPIDocument checks the document's own consistency: references
// resolve, schemas use only what the checker below understands, errors are
// problems, path parameters are declared and examples are valid.
func TestOpenAPIDocument(t *testing.T) {
	doc := mustSpec(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v; want 3.1.0", doc["openapi"])
	}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, ok := doc.resolve(ref); !ok {
					t.Errorf("%s: $ref %q does not resolve", at, ref)
				}
			}
			for k, e := range v {
				walk(e, at+"/"+k)
			}
		case []any:
			for i, e := range v {
				walk(e, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(map[string]any(doc), "#")

	schemas, _ := doc.resolve("#/components/schemas")
	for name, s := range schemas.(map[string]any) {
		specCheckKeywords(t, s, "#/components/schemas/"+name)
	}
	schemes, _ := doc.resolve("#/components/securitySchemes")
	checkSecurity := func(at string, sec any) {
		list, _ := sec.([]any)
		for _, req := range list {
			for name := range req.(map[string]any) {
				if _, ok := schemes.(map[string]any)[name]; !ok {
					t.Errorf("%s: security scheme %q is not in components/securitySchemes", at, name)
				}
			}
		}
	}
	checkSecurity("#/security", doc["security"])

	c := specChecker{doc: doc}
	ids := map[string]string{}
	pathParam := regexp.MustCompile(`\{([^}]+)\}`)
	for _, name := range doc.operations() {
		method, path, _ := strings.Cut(name, " ")
		op, _ := doc.operation(method, path)
		id, _ := op["operationId"].(string)
		if id == "" {
			t.Errorf("%s has no operationId", name)
		} else if other, dup := ids[id]; dup {
			t.Errorf("%s and %s share operationId %q", name, other, id)
		}
		ids[id] = name
		checkSecurity(name, op["security"])
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			if p, ok := doc.parameter(op, "path", m[1]); !ok || p["required"] != true {
				t.Errorf("%s: path parameter %q is not declared, or not required", name, m[1])
			}
		}
		params, _ := op["parameters"].([]any)
		for _, p := range params {
			pm := doc.deref(p.(map[string]any))
			if pm["in"] == "path" && !strings.Contains(path, "{"+pm["name"].(string)+"}") {
				t.Errorf("%s: declares path parameter %q that the path lacks", name, pm["name"])
			}
			specCheckKeywords(t, pm["schema"], name+" parameter "+fmt.Sprint(pm["name"]))
		}
		if rb, ok := op["requestBody"].(map[string]any); ok {
			for mt, media := range rb["content"].(map[string]any) {
				mm := media.(map[string]any)
				specCheckKeywords(t, mm["schema"], name+" request body")
				if ex, ok := mm["example"]; ok {
					for _, problem := range c.validate(mm["schema"], specNumbers(t, ex), "$") {
						t.Errorf("%s: the %s request example is invalid: %s", name, mt, problem)
					}
				}
			}
		}
		responses, _ := op["responses"].(map[string]any)
		if len(responses) == 0 {
			t.Errorf("%s documents no responses", name)
		}
		if _, ok := responses["400"]; !ok {
			t.Errorf("%s does not document 400: every route answers 400 invalid_text for text it cannot take", name)
		}
		var success bool
		for status, r := range responses {
			code, err := strconv.Atoi(status)
			if err != nil {
				t.Errorf("%s: response %q: give every status explicitly (no default, no ranges)", name, status)
				continue
			}
			success = success || code < 400
			specCheckResponse(t, doc, fmt.Sprintf("%s %s", name, status), code, r.(map[string]any))
		}
		if !success {
			t.Errorf("%s documents no success response", name)
		}
	}
	for _, name := range []string{"NoSuchRoute", "MethodNotAllowed"} {
		r, _ := doc.resolve("#/components/responses/" + name)
		status := map[string]int{"NoSuchRoute": 404, "MethodNotAllowed": 405}[name]
		specCheckResponse(t, doc, "components/responses/"+name, status, r.(map[string]any))
	}
}

// specCheckResponse checks one documented response: a description, problem+json
// with the Problem schema for errors, JSON for the rest.
func specCheckResponse(t *testing.T, doc specDoc, at string, status int, r map[string]any) {
	t.Helper()
	r = doc.deref(r)
	if r == nil {
		t.Errorf("%s: response does not resolve", at)
		return
	}
	if d, _ := r["description"].(string); d == "" {
		t.Errorf("%s: response has no description", at)
	}
	content, _ := r["content"].(map[string]any)
	for mt, media := range content {
		schema := media.(map[string]any)["schema"]
		specCheckKeywords(t, schema, at+" "+mt)
		switch {
		case status >= 400 && mt != "application/problem+json":
			t.Errorf("%s: an error is application/problem+json, not %s", at, mt)
		case status >= 400 && fmt.Sprint(schema) != fmt.Sprint(map[string]any{"$ref": "#/components/schemas/Problem"}):
			t.Errorf("%s: an error's schema is #/components/schemas/Problem, not %v", at, schema)
		case status < 400 && !specSuccessTypes[mt]:
			t.Errorf("%s: a success is application/json (or a text/html page, a text/csv export, an image/png or a text/event-stream), not %s", at, mt)
		}
	}
	if status >= 400 && len(content) == 0 {
		t.Errorf("%s: an error response needs application/problem+json content", at)
	}
	if status == http.StatusNoContent && len(content) != 0 {
		t.Errorf("%s: 204 has no body", at)
	}
}

// specSuccessTypes are the media types a success may have: JSON, and for a few
// routes a page, an export, an image or an event stream, which the flow checks
// only for a body.
var specSuccessTypes = map[string]bool{"application/json": true, "text/html": true, "text/csv": true, "image/png": true, "text/event-stream": true}

// specKeywords are the schema keywords specChecker understands, and the
// annotations it may ignore. A schema using anything else is refused, so that
// no rule of the document goes unchecked.
var specKeywords = map[string]bool{
	"$ref": true, "type": true, "enum": true, "const": true, "properties": true, "required": true,
	"additionalProperties": true, "items": true, "minItems": true, "maxItems": true, "format": true, "pattern": true,
	"minLength": true, "maxLength": true, "minimum": true, "maximum": true, "anyOf": true, "oneOf": true, "allOf": true,
	"description": true, "examples": true, "title": true,
}

// specCheckKeywords refuses keywords the checker does not know, and objects
// with properties that leave additionalProperties open.
func specCheckKeywords(t *testing.T, schema any, at string) {
	t.Helper()
	s, ok := schema.(map[string]any)
	if !ok {
		if schema != nil {
			t.Errorf("%s: a schema must be an object, not %T", at, schema)
		}
		return
	}
	for k := range s {
		if !specKeywords[k] {
			t.Errorf("%s: schema keyword %q is not understood by the test's checker: add it to specChecker or do without", at, k)
		}
	}
	if _, ok := s["properties"]; ok && s["additionalProperties"] == nil {
		t.Errorf("%s: an object with properties should say additionalProperties (parkd refuses unknown request fields and controls every response)", at)
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for name, p := range props {
			specCheckKeywords(t, p, at+".properties."+name)
		}
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := props[r.(string)]; !ok && s["additionalProperties"] == false {
				t.Errorf("%s: requires %q, which is not among its properties", at, r)
			}
		}
	}
	if items, ok := s["items"]; ok {
		specCheckKeywords(t, items, at+".items")
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		specCheckKeywords(t, ap, at+".additionalProperties")
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		list, _ := s[k].([]any)
		for i, sub := range list {
			specCheckKeywords(t, sub, fmt.Sprintf("%s.%s[%d]", at, k, i))
		}
	}
}

// specChecker validates JSON values against the document's schemas: the
// subset of JSON Schema listed in specKeywords.
type specChecker struct {
	doc specDoc
}

// validate returns every way v breaks schema, each naming its JSON path.
func (c specChecker) validate(schema, v any, path string) []string {
	s, ok := schema.(map[string]any)
	if !ok {
		return nil // no schema: anything goes
	}
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, path+": "+fmt.Sprintf(format, args...))
	}
	if ref, ok := s["$ref"].(string); ok {
		target, ok := c.doc.resolve(ref)
		if !ok {
			fail("$ref %q does not resolve", ref)
			return problems
		}
		problems = append(problems, c.validate(target, v, path)...)
	}
	if typ, ok := s["type"]; ok {
		var types []string
		switch typ := typ.(type) {
		case string:
			types = []string{typ}
		case []any:
			for _, t := range typ {
				types = append(types, t.(string))
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return specHasType(v, t) }) {
			fail("is %s; want %s", specTypeOf(v), strings.Join(types, " or "))
			return problems
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		if !slices.ContainsFunc(enum, func(e any) bool { return specEqual(e, v) }) {
			fail("%s is not one of %v", specShow(v), enum)
		}
	}
	if cv, ok := s["const"]; ok && !specEqual(cv, v) {
		fail("%s; want %s", specShow(v), specShow(cv))
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := v[r.(string)]; !ok {
				fail("required property %q is missing", r)
			}
		}
		names := make([]string, 0, len(v))
		for k := range v {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if ps, ok := props[k]; ok {
				problems = append(problems, c.validate(ps, v[k], path+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("property %q is not in the schema (additionalProperties is false)", k)
				}
			case map[string]any:
				problems = append(problems, c.validate(ap, v[k], path+"."+k)...)
			}
		}
	case []any:
		if min, ok := s["minItems"].(float64); ok && float64(len(v)) < min {
			fail("has %d items; want at least %v", len(v), min)
		}
		if max, ok := s["maxItems"].(float64); ok && float64(len(v)) > max {
			fail("has %d items; want at most %v", len(v), max)
		}
		if items, ok := s["items"]; ok {
			for i, e := range v {
				problems = append(problems, c.validate(items, e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	case string:
		if min, ok := s["minLength"].(float64); ok && float64(len([]rune(v))) < min {
			fail("%q is shorter than %v", v, min)
		}
		if max, ok := s["maxLength"].(float64); ok && float64(len([]rune(v))) > max {
			fail("%q is longer than %v", v, max)
		}
		if p, ok := s["pattern"].(string); ok {
			if re, err := regexp.Compile(p); err != nil {
				fail("pattern %q does not compile: %v", p, err)
			} else if !re.MatchString(v) {
				fail("%q does not match %s", v, p)
			}
		}
		switch s["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				fail("%q is not an RFC 3339 date-time", v)
			}
		case "email":
			if !strings.Contains(v, "@") {
				fail("%q is not an email address", v)
			}
		}
	case json.Number:
		f, _ := v.Float64()
		if min, ok := s["minimum"].(float64); ok && f < min {
			fail("%v is less than %v", v, min)
		}
		if max, ok := s["maximum"].(float64); ok && f > max {
			fail("%v is more than %v", v, max)
		}
	}
	if list, ok := s["allOf"].([]any); ok {
		for _, sub := range list {
			problems = append(problems, c.validate(sub, v, path)...)
		}
	}
	if list, ok := s["anyOf"].([]any); ok {
		var all []string
		matched := false
		for _, sub := range list {
			p := c.validate(sub, v, path)
			matched = matched || len(p) == 0
			all = append(all, p...)
		}
		if !matched {
			fail("matches none of anyOf: %s", strings.Join(all, "; "))
		}
	}
	if list, ok := s["oneOf"].([]any); ok {
		n := 0
		var all []string
		for _, sub := range list {
			p := c.validate(sub, v, path)
			if len(p) == 0 {
				n++
			}
			all = append(all, p...)
		}
		if n != 1 {
			fail("matches %d of oneOf; want exactly 1: %s", n, strings.Join(all, "; "))
		}
	}
	return problems
}

func specHasType(v any, typ string) bool {
	switch typ {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func specTypeOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "integer " + v.String()
		}
		return "number " + v.String()
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func specShow(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// specEqual compares a value from the document (numbers as float64) with one
// from a response (numbers as json.Number).
func specEqual(a, b any) bool {
	if n, ok := b.(json.Number); ok {
		f, _ := n.Float64()
		b = f
	}
	return specShow(a) == specShow(b)
}

// specNumbers re-decodes v, from the document, with numbers as json.Number.
func specNumbers(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := specDecode(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func specDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

// specExchange is one request the flow made and what came back.
type specExchange struct {
	method, path, pattern string
	reqBody               []byte
	status                int
	header                http.Header
	body                  []byte
}

func (x specExchange) String() string {
	return fmt.Sprintf("%s %s (route %q) = %d", x.method, x.path, x.pattern, x.status)
}

// problem decodes the body as a problem.
func (x specExchange) problem() Problem {
	var p Problem
	json.Unmarshal(x.body, &p)
	return p
}

// specFlow drives requests through the real handler and keeps every exchange.
type specFlow struct {
	t         *testing.T
	handler   http.Handler
	routes    *http.ServeMux // the same routes, to learn which pattern served a request
	remote    string
	exchanges []specExchange
	// reqCtx, when set, is the context of the requests sent (a stream ends
	// when it does).
	reqCtx context.Context
}

func newSpecFlow(t *testing.T, s Services) *specFlow {
	rt := &router{mux: http.NewServeMux()}
	addRoutes(rt, Services{})
	return &specFlow{t: t, handler: NewHandler(s), routes: rt.mux, remote: "192.0.2.1:1234"}
}

// specBearer returns the header pair of a session token or device key.
func specBearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// do sends a request: body is sent as is when it is a string or []byte, and
// JSON-encoded otherwise; headers are name, value pairs.
func (f *specFlow) do(method, path string, body any, headers ...string) specExchange {
	f.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			f.t.Fatal(err)
		}
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	if f.reqCtx != nil {
		req = req.WithContext(f.reqCtx)
	}
	req.RemoteAddr = f.remote
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	_, pattern := f.routes.Handler(req)
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	x := specExchange{method: method, path: path, pattern: pattern, reqBody: raw,
		status: rec.Code, header: rec.Result().Header, body: rec.Body.Bytes()}
	f.exchanges = append(f.exchanges, x)
	return x
}

// must sends a request and fails the test unless it answers want.
func (f *specFlow) must(want int, method, path string, body any, headers ...string) specExchange {
	f.t.Helper()
	x := f.do(method, path, body, headers...)
	if x.status != want {
		f.t.Fatalf("%s %s = %d %s; want %d", method, path, x.status, x.body, want)
	}
	return x
}

// mustProblem sends a request and fails the test unless it answers want with code.
func (f *specFlow) mustProblem(want int, code, method, path string, body any, headers ...string) specExchange {
	f.t.Helper()
	x := f.must(want, method, path, body, headers...)
	if p := x.problem(); p.Code != code {
		f.t.Fatalf("%s %s = %d %s; want code %s", method, path, x.status, x.body, code)
	}
	return x
}

// into decodes a response body into v.
func (x specExchange) into(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(x.body, v); err != nil {
		t.Fatalf("%s: decode %s: %v", x, x.body, err)
	}
}

// check validates every exchange against the document. It returns the
// operations that answered a success at least once (and, as "METHOD /path
// status", every documented response met), and every mismatch.
func (f *specFlow) check(doc specDoc) (succeeded map[string]bool, problems []string) {
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	c := specChecker{doc: doc}
	succeeded = map[string]bool{}
	for _, x := range f.exchanges {
		var resp map[string]any
		var op map[string]any
		name := "unrouted " + x.method + " " + x.path
		if x.pattern == "" {
			switch x.status {
			case http.StatusNotFound:
				resp = doc.deref(map[string]any{"$ref": "#/components/responses/NoSuchRoute"})
			case http.StatusMethodNotAllowed:
				resp = doc.deref(map[string]any{"$ref": "#/components/responses/MethodNotAllowed"})
			default:
				report("%s: only 404 and 405 are documented for requests no route serves", x)
				continue
			}
		} else {
			method, path := specPath(x.pattern)
			name = method + " " + path
			var ok bool
			if op, ok = doc.operation(method, path); !ok {
				report("%s: the route is not documented", x)
				continue
			}
			responses, _ := op["responses"].(map[string]any)
			r, ok := responses[strconv.Itoa(x.status)].(map[string]any)
			if !ok {
				report("%s: %s answered %d, which openapi.json does not list for it (body %s)", x, name, x.status, x.body)
				continue
			}
			resp = doc.deref(r)
			succeeded[name+" "+strconv.Itoa(x.status)] = true
			if x.status < 300 {
				succeeded[name] = true
			}
		}
		at := fmt.Sprintf("%s answering %d", name, x.status)

		content, _ := resp["content"].(map[string]any)
		if len(content) == 0 {
			if len(x.body) != 0 {
				report("%s: documented without a body, but sent %q", at, x.body)
			}
		} else {
			mt, _, err := mime.ParseMediaType(x.header.Get("Content-Type"))
			media, ok := content[mt].(map[string]any)
			if err != nil || !ok {
				report("%s: Content-Type %q is not documented (want one of %v)", at, x.header.Get("Content-Type"), slices.Sorted(maps.Keys(content)))
			} else if !strings.HasSuffix(mt, "json") {
				if len(x.body) == 0 {
					report("%s: sent an empty %s body", at, mt)
				}
			} else {
				v, err := specDecode(x.body)
				if err != nil {
					report("%s: the body is not JSON: %v: %s", at, err, x.body)
				} else {
					for _, problem := range c.validate(media["schema"], v, "$") {
						report("%s: %s", at, problem)
					}
				}
			}
		}
		if x.status >= 400 {
			if p := x.problem(); p.Status != x.status {
				report("%s: problem status %d differs from the HTTP status", at, p.Status)
			}
		}

		headers, _ := resp["headers"].(map[string]any)
		for _, h := range []string{"Location", "Retry-After", "Allow", "Set-Cookie"} {
			if x.header.Get(h) != "" && headers[h] == nil {
				report("%s: sends a %s header that the response does not document", at, h)
			}
		}
		if x.header.Get("Idempotent-Replayed") != "" {
			if _, ok := doc.parameter(op, "header", "Idempotency-Key"); !ok {
				report("%s: replayed a stored response, but the operation documents no Idempotency-Key", at)
			}
			if x.status < 300 && headers["Idempotent-Replayed"] == nil {
				report("%s: sends Idempotent-Replayed, which the response does not document", at)
			}
		}

		// Requests that succeeded must fit the documented request body.
		if x.status < 300 && len(x.reqBody) != 0 && op != nil {
			rb, ok := op["requestBody"].(map[string]any)
			if !ok {
				continue
			}
			media, _ := rb["content"].(map[string]any)["application/json"].(map[string]any)
			v, err := specDecode(x.reqBody)
			if err != nil {
				report("%s: succeeded with a body that is not JSON: %s", at, x.reqBody)
				continue
			}
			for _, problem := range c.validate(media["schema"], v, "$") {
				report("%s: the request body that succeeded breaks the documented request schema: %s", at, problem)
			}
		}
	}
	return succeeded, problems
}

// TestOpenAPIResponses drives a realistic session through the real handler and
// checks every response against the document.
func TestOpenAPIResponses(t *testing.T) {
	doc := mustSpec(t)
	store := teststore.OpenSQLite(t)
	clock := parkingtest.NewClock(storetest.T0)
	fx := storetest.MustFixture(t, store)
	authn := auth.New(store, clock)
	engine := booking.New(store, clock)
	log := parkingtest.Logger(t)
	const webhookSecret = "whsec_openapi_test"
	sandbox := payments.NewSandbox(webhookSecret, clock)
	pay := payments.New(store, sandbox, engine, clock, log)
	keys, err := pass.NewKeyring(pass.Key{ID: "t1", Secret: []byte("a test pass key of thirty-two b!")})
	if err != nil {
		t.Fatal(err)
	}
	gates := gate.New(store, engine, pay, keys, clock, log)
	hub := live.NewHub(log, store, clock)
	hubCtx, stopHub := context.WithCancel(t.Context())
	defer stopHub()
	go hub.Run(hubCtx, 10*time.Millisecond)
	notifier := notify.New(notify.Config{Store: store, Clock: clock, Log: log, UnsubscribeKeys: [][]byte{[]byte("openapi-test")}})
	f := newSpecFlow(t, WithStore(Services{Log: log, Engine: engine, Auth: authn, Payments: pay, Gates: gates, Clock: clock, Live: hub,
		Notify: notifier}, store))
	lot := "/api/v1/lots/" + fx.Lot.ID
	key := func(k string) []string { return []string{"Idempotency-Key", k} }
	with := func(pairs ...[]string) []string { return slices.Concat(pairs...) }
	at := func(h int) string { return storetest.T0.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }

	// Health and this document.
	f.must(200, "GET", "/healthz", nil)
	f.must(200, "GET", "/readyz", nil)
	if x := f.must(200, "GET", "/api/openapi.json", nil); !bytes.Equal(x.body, openAPIDocument) {
		t.Errorf("GET /api/openapi.json does not serve the embedded document")
	}

	// Accounts.
	signUp := map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "password": "correct horse battery"}
	first := f.must(201, "POST", "/api/v1/users", signUp, key("signup-1")...)
	again := f.must(201, "POST", "/api/v1/users", signUp, key("signup-1")...)
	if again.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(first.body, again.body) {
		t.Errorf("sign-up retry = %s %q; want the first body, replayed", again.body, again.header.Get("Idempotent-Replayed"))
	}
	f.mustProblem(409, parking.EEMAILTAKEN, "POST", "/api/v1/users", signUp)
	f.mustProblem(422, parking.EIDEMPOTENCY, "POST", "/api/v1/users", map[string]any{"name": "Other", "email": "o@example.com", "password": "0123456789"}, key("signup-1")...)
	if x := f.mustProblem(422, parking.EVALIDATION, "POST", "/api/v1/users", map[string]any{"name": "", "email": "nope", "password": "short"}); len(x.problem().Fields) != 3 {
		t.Errorf("sign-up with three bad fields = %s; want three fields", x.body)
	}
	f.mustProblem(400, parking.EINVALID, "POST", "/api/v1/users", `{"name": "Ada", "nickname": "ada"}`)
	f.mustProblem(400, parking.EINVALID, "POST", "/api/v1/users", `{"name": `)
	f.mustProblem(400, parking.EINVALID, "POST", "/api/v1/users", signUp, key(strings.Repeat("k", 256))...)
	huge := `{"name": "` + strings.Repeat("a", MaxBodyBytes) + `"}`
	f.mustProblem(413, "too_large", "POST", "/api/v1/users", huge)
	f.mustProblem(413, "too_large", "POST", "/api/v1/users", huge, key("signup-huge")...)

	var sess sessionResponse
	f.must(201, "POST", "/api/v1/sessions", map[string]any{"email": "ada@example.com", "password": "correct horse battery"}).into(t, &sess)
	ada := specBearer(sess.Token)
	f.mustProblem(401, parking.EUNAUTHORIZED, "POST", "/api/v1/sessions", map[string]any{"email": "ada@example.com", "password": "wrong password"})
	f.mustProblem(400, parking.EINVALID, "POST", "/api/v1/sessions", `{"email": 7}`)
	f.must(200, "GET", "/api/v1/users/me", nil, ada...)
	f.must(200, "GET", "/api/v1/users/"+sess.User.ID, nil, ada...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "GET", "/api/v1/users/me", nil)
	f.mustProblem(401, parking.EUNAUTHORIZED, "GET", "/api/v1/users/me", nil, specBearer("pks_unknown")...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "GET", "/api/v1/lots", nil, "Authorization", "Basic YWRhOnB3")
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/users/usr_someone_else", nil, ada...)
	f.must(200, "GET", "/api/v1/users/me", nil, "Cookie", SessionCookie+"="+sess.Token)

	// Vehicles.
	f.must(200, "GET", "/api/v1/users/me/vehicles", nil, ada...)
	var car parking.Vehicle
	f.must(201, "POST", "/api/v1/users/me/vehicles", map[string]any{"plate": "ab-123 c", "size": "sedan"}, with(ada, key("veh-1"))...).into(t, &car)
	f.must(201, "POST", "/api/v1/users/me/vehicles", map[string]any{"plate": "ab-123 c", "size": "sedan"}, with(ada, key("veh-1"))...)
	var spare parking.Vehicle
	f.must(201, "POST", "/api/v1/users/"+sess.User.ID+"/vehicles", map[string]any{"plate": "SPARE1", "size": "large"}, ada...).into(t, &spare)
	f.mustProblem(422, parking.EVALIDATION, "POST", "/api/v1/users/me/vehicles", map[string]any{"plate": ""}, ada...)
	f.mustProblem(400, parking.EINVALID, "POST", "/api/v1/users/me/vehicles", map[string]any{"plate": "XY1", "size": "huge"}, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "POST", "/api/v1/users/usr_someone_else/vehicles", map[string]any{"plate": "XY1", "size": "compact"}, ada...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "POST", "/api/v1/users/me/vehicles", map[string]any{"plate": "XY1", "size": "compact"})
	f.must(200, "GET", "/api/v1/users/me/vehicles", nil, ada...)
	f.must(204, "DELETE", "/api/v1/users/me/vehicles/"+spare.ID, nil, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "DELETE", "/api/v1/users/me/vehicles/"+spare.ID, nil, ada...)

	// Lots and spots.
	f.must(200, "GET", "/api/v1/lots", nil)
	f.must(200, "GET", lot, nil)
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/lots/lot_missing", nil)
	f.must(200, "GET", lot+"/spots", nil)
	f.must(200, "GET", lot+"/spots?size=suv&from="+at(2)+"&to="+at(4), nil)
	f.mustProblem(400, parking.EINVALID, "GET", lot+"/spots?size=huge", nil)
	f.mustProblem(400, parking.EINVALID, "GET", lot+"/spots?from="+at(3)+"&to="+at(2), nil)
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/lots/lot_missing/spots", nil)
	f.must(200, "GET", lot+"/spots/"+fx.Spots[0].ID, nil)
	f.mustProblem(404, parking.ENOTFOUND, "GET", lot+"/spots/spt_missing", nil)
	f.mustProblem(400, parking.EINVALID, "GET", lot+"/spots/"+fx.Spots[0].ID+"?from=tomorrow", nil)
	f.must(200, "GET", lot+"/availability", nil)
	f.must(200, "GET", lot+"/availability?size=compact", nil)
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/lots/lot_missing/availability", nil)

	// The live feed, as Server-Sent Events: the stream runs until its request
	// ends, so the request is given a short life.
	stream, stopStream := context.WithTimeout(t.Context(), 300*time.Millisecond)
	f.reqCtx = stream
	if x := f.must(200, "GET", lot+"/live", nil, "Accept", "text/event-stream"); !strings.Contains(string(x.body), `"type":"snapshot"`) {
		t.Errorf("live feed = %s; want a snapshot first", x.body)
	}
	f.reqCtx = nil
	stopStream()
	f.mustProblem(426, parking.EUPGRADEREQUIRED, "GET", lot+"/live", nil)
	f.mustProblem(400, parking.EINVALID, "GET", lot+"/live?to=soon", nil, "Accept", "text/event-stream")
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/lots/lot_missing/live", nil, "Accept", "text/event-stream")
	f.mustProblem(403, parking.EFORBIDDEN, "GET", lot+"/live", nil, "Upgrade", "websocket", "Connection", "Upgrade", "Origin", "https://evil.example")
	f.mustProblem(400, parking.EINVALID, "GET", lot+"/availability?to=soon", nil)

	// Reservations.
	spot := fx.SpotsOf(parking.Standard)[0]
	hold := map[string]any{"lot_id": fx.Lot.ID, "spot_id": spot.ID, "vehicle_id": car.ID, "starts_at": at(1), "ends_at": at(3)}
	f.mustProblem(400, "idempotency_key_required", "POST", "/api/v1/reservations", hold, ada...)
	var res parking.Reservation
	held := f.must(201, "POST", "/api/v1/reservations", hold, with(ada, key("hold-1"))...)
	held.into(t, &res)
	replayed := f.must(201, "POST", "/api/v1/reservations", hold, with(ada, key("hold-1"))...)
	if replayed.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(held.body, replayed.body) {
		t.Errorf("hold retry = %s %q; want the first body, replayed", replayed.body, replayed.header.Get("Idempotent-Replayed"))
	}
	other := map[string]any{"lot_id": fx.Lot.ID, "plate": "ZZ 999", "size": "compact", "starts_at": at(2), "ends_at": at(4)}
	f.mustProblem(422, parking.EIDEMPOTENCY, "POST", "/api/v1/reservations", other, with(ada, key("hold-1"))...)
	other["spot_id"] = spot.ID
	f.mustProblem(409, parking.ESPOTUNAVAILABLE, "POST", "/api/v1/reservations", other, with(ada, key("hold-2"))...)
	delete(other, "spot_id")
	f.must(201, "POST", "/api/v1/reservations", other, with(ada, key("hold-3"))...)
	f.mustProblem(422, parking.EVALIDATION, "POST", "/api/v1/reservations", map[string]any{"lot_id": fx.Lot.ID}, with(ada, key("hold-4"))...)
	f.mustProblem(422, parking.EWINDOWINPAST, "POST", "/api/v1/reservations",
		map[string]any{"lot_id": fx.Lot.ID, "vehicle_id": car.ID, "starts_at": at(-2), "ends_at": at(-1)}, with(ada, key("hold-5"))...)
	f.mustProblem(422, parking.ESTAYTOOLONG, "POST", "/api/v1/reservations",
		map[string]any{"lot_id": fx.Lot.ID, "vehicle_id": car.ID, "starts_at": at(1), "ends_at": at(30)}, with(ada, key("hold-6"))...)
	f.mustProblem(422, parking.EVEHICLETOOLARGE, "POST", "/api/v1/reservations",
		map[string]any{"lot_id": fx.Lot.ID, "spot_id": fx.Spots[0].ID, "vehicle_id": car.ID, "starts_at": at(1), "ends_at": at(2)}, with(ada, key("hold-7"))...)
	f.mustProblem(404, parking.ENOTFOUND, "POST", "/api/v1/reservations",
		map[string]any{"lot_id": "lot_missing", "vehicle_id": car.ID, "starts_at": at(1), "ends_at": at(2)}, with(ada, key("hold-8"))...)
	bus := map[string]any{"lot_id": fx.Lot.ID, "plate": "BUS1", "size": "large", "starts_at": at(5), "ends_at": at(6)}
	for i := range fx.SpotsOf(parking.Large) {
		f.must(201, "POST", "/api/v1/reservations", bus, with(ada, key(fmt.Sprintf("bus-%d", i)))...)
	}
	f.mustProblem(409, parking.ENOSPOTAVAILABLE, "POST", "/api/v1/reservations", bus, with(ada, key("hold-9"))...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "POST", "/api/v1/reservations", hold, key("hold-anon")...)
	// A first request still running: its key is claimed but not answered yet.
	inFlight := map[string]any{"lot_id": fx.Lot.ID, "vehicle_id": car.ID, "starts_at": at(7), "ends_at": at(8)}
	raw, _ := json.Marshal(inFlight)
	if _, _, err := store.ClaimIdempotencyKey(t.Context(), parking.IdempotencyKey{UserID: sess.User.ID, Key: "hold-running",
		RequestHash: requestHash("POST", "/api/v1/reservations", string(raw)), CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)},
		clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.mustProblem(409, parking.EINFLIGHT, "POST", "/api/v1/reservations", raw, with(ada, key("hold-running"))...)

	f.must(200, "GET", "/api/v1/reservations/"+res.ID, nil, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/reservations/res_missing", nil, ada...)
	f.mustProblem(400, "idempotency_key_required", "POST", "/api/v1/reservations/"+res.ID+"/cancel", nil, ada...)
	f.must(200, "POST", "/api/v1/reservations/"+res.ID+"/cancel", nil, with(ada, key("cancel-1"))...)
	f.must(200, "POST", "/api/v1/reservations/"+res.ID+"/cancel", nil, with(ada, key("cancel-1"))...)
	f.mustProblem(409, parking.ESTATUS, "POST", "/api/v1/reservations/"+res.ID+"/cancel", nil, with(ada, key("cancel-2"))...)
	f.mustProblem(404, parking.ENOTFOUND, "POST", "/api/v1/reservations/res_missing/cancel", nil, with(ada, key("cancel-3"))...)
	f.must(200, "GET", "/api/v1/users/me/reservations", nil, ada...)
	f.must(200, "GET", "/api/v1/users/me/payments", nil, ada...)

	// Payments.
	holdFor := func(k string, from int) parking.Reservation {
		t.Helper()
		var r parking.Reservation
		f.must(201, "POST", "/api/v1/reservations", map[string]any{"lot_id": fx.Lot.ID, "vehicle_id": car.ID, "starts_at": at(from), "ends_at": at(from + 1)},
			with(ada, key(k))...).into(t, &r)
		return r
	}
	payFor := func(res parking.Reservation) string { return "/api/v1/reservations/" + res.ID + "/payments" }
	paid := holdFor("pay-hold-1", 10)
	var result struct{ Payment parking.Payment }
	f.must(201, "POST", payFor(paid), map[string]any{"payment_method": payments.CardVisa}, with(ada, key("pay-1"))...).into(t, &result)
	f.must(201, "POST", payFor(paid), map[string]any{"payment_method": payments.CardVisa}, with(ada, key("pay-1"))...)
	f.mustProblem(409, parking.EALREADYPAID, "POST", payFor(paid), map[string]any{"payment_method": payments.CardVisa}, with(ada, key("pay-2"))...)
	f.mustProblem(400, "idempotency_key_required", "POST", payFor(paid), map[string]any{"payment_method": payments.CardVisa}, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "POST", "/api/v1/reservations/res_missing/payments", map[string]any{"payment_method": payments.CardVisa}, with(ada, key("pay-3"))...)
	declined := holdFor("pay-hold-2", 12)
	f.mustProblem(402, parking.EDECLINED, "POST", payFor(declined), map[string]any{"payment_method": payments.CardDeclined}, with(ada, key("pay-4"))...)
	f.mustProblem(422, parking.EPAYMENTMETHOD, "POST", payFor(declined), map[string]any{"payment_method": "pm_made_up"}, with(ada, key("pay-5"))...)
	f.mustProblem(422, parking.ECARDNUMBER, "POST", payFor(declined), map[string]any{"payment_method": "4242 4242 4242 4242"}, with(ada, key("pay-5b"))...)
	f.mustProblem(422, parking.EVALIDATION, "POST", payFor(declined), map[string]any{}, with(ada, key("pay-6"))...)
	pending := holdFor("pay-hold-3", 14)
	var async struct{ Payment parking.Payment }
	f.must(202, "POST", payFor(pending), map[string]any{"payment_method": payments.CardAsyncSuccess}, with(ada, key("pay-7"))...).into(t, &async)
	event, _ := json.Marshal(map[string]any{"id": "evt_openapi_1", "type": "payment_intent.succeeded", "created": clock.Now().Unix(),
		"data": map[string]any{"object": map[string]any{"id": async.Payment.GatewayID, "object": "payment_intent", "status": "succeeded",
			"metadata": map[string]string{"payment_id": async.Payment.ID}}}})
	f.mustProblem(400, parking.EWEBHOOK, "POST", "/api/v1/payments/webhook", event, payments.SignatureHeader, payments.SignWebhook("whsec_forged", event, clock.Now()))
	f.must(200, "POST", "/api/v1/payments/webhook", event, payments.SignatureHeader, payments.SignWebhook(webhookSecret, event, clock.Now()))
	f.must(200, "POST", "/api/v1/payments/webhook", event, payments.SignatureHeader, payments.SignWebhook(webhookSecret, event, clock.Now()))
	f.mustProblem(409, parking.EALREADYPAID, "POST", payFor(pending), map[string]any{"payment_method": payments.CardVisa}, with(ada, key("pay-8"))...)
	f.must(200, "GET", "/api/v1/payments/"+result.Payment.ID, nil, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/payments/pay_missing", nil, ada...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "GET", "/api/v1/payments/"+result.Payment.ID, nil)
	if x := f.must(200, "GET", "/api/v1/payments/"+result.Payment.ID+"/receipt", nil, ada...); !strings.Contains(string(x.body), "4242") {
		t.Errorf("receipt = %s; want the card's last four digits", x.body)
	}
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/payments/pay_missing/receipt", nil, ada...)
	extend := "/api/v1/reservations/" + paid.ID + "/extension"
	longer := paid.EndsAt.Add(time.Hour)
	var ext payments.Extension
	f.must(200, "POST", extend, map[string]any{"ends_at": longer, "payment_method": payments.CardVisa}, with(ada, key("ext-1"))...).into(t, &ext)
	if !ext.Reservation.EndsAt.Equal(longer) || ext.Payment == nil || ext.Payment.Amount != ext.Amount || ext.Amount <= 0 {
		t.Errorf("extension = %+v; want the end %v, paid", ext, longer)
	}
	f.must(200, "POST", extend, map[string]any{"ends_at": longer, "payment_method": payments.CardVisa}, with(ada, key("ext-1"))...)
	f.mustProblem(422, parking.EINVALIDWINDOW, "POST", extend, map[string]any{"ends_at": paid.StartsAt.Add(30 * time.Minute)}, with(ada, key("ext-2"))...)
	f.mustProblem(422, parking.EVALIDATION, "POST", extend, map[string]any{}, with(ada, key("ext-3"))...)
	f.mustProblem(402, parking.EDECLINED, "POST", extend, map[string]any{"ends_at": longer.Add(time.Hour), "payment_method": payments.CardDeclined}, with(ada, key("ext-4"))...)
	f.mustProblem(409, parking.ENOTEXTENDABLE, "POST", "/api/v1/reservations/"+declined.ID+"/extension", map[string]any{"ends_at": declined.EndsAt.Add(time.Hour)}, with(ada, key("ext-5"))...)
	f.mustProblem(400, "idempotency_key_required", "POST", extend, map[string]any{"ends_at": longer}, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "POST", "/api/v1/reservations/res_missing/extension", map[string]any{"ends_at": longer}, with(ada, key("ext-6"))...)
	var refunded struct{ Refund *parking.Payment }
	f.must(200, "POST", "/api/v1/reservations/"+paid.ID+"/cancel", nil, with(ada, key("cancel-paid"))...).into(t, &refunded)
	if refunded.Refund == nil || refunded.Refund.Kind != parking.Refund {
		t.Errorf("cancelling a paid reservation gave no refund")
	}
	f.mustProblem(409, parking.ESTATUS, "POST", payFor(paid), map[string]any{"payment_method": payments.CardVisa}, with(ada, key("pay-9"))...)
	f.must(200, "GET", "/api/v1/users/me/payments", nil, ada...)

	// A saved payment method, for overstays.
	method := "/api/v1/users/me/payment-method"
	f.mustProblem(404, parking.ENOTFOUND, "GET", method, nil, ada...)
	f.mustProblem(422, parking.EVALIDATION, "PUT", method, map[string]any{"payment_method": payments.CardVisa}, ada...)
	f.mustProblem(400, parking.EINVALID, "PUT", method, map[string]any{"payment_method": payments.CardVisa, "consent": "yes"}, ada...)
	f.must(200, "PUT", method, map[string]any{"payment_method": payments.CardVisa, "consent": true}, ada...)
	f.must(200, "GET", method, nil, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/users/usr_someone_else/payment-method", nil, ada...)
	f.must(204, "DELETE", method, nil, ada...)
	f.must(204, "DELETE", method, nil, ada...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "PUT", method, map[string]any{"payment_method": payments.CardVisa, "consent": true})

	if _, err := authn.CreateUser(t.Context(), "Ann Admin", "ann@example.com", "admin password", parking.RoleAdmin, ""); err != nil {
		t.Fatal(err)
	}
	var adminSess sessionResponse
	f.must(201, "POST", "/api/v1/sessions", map[string]any{"email": "ann@example.com", "password": "admin password"}).into(t, &adminSess)
	ann := specBearer(adminSess.Token)
	// Money the gateway took for no payment of parkd's, and a reservation
	// confirmed without a charge: the report lists both.
	if _, err := sandbox.Charge(t.Context(), payments.ChargeRequest{PaymentID: "pay_ghost", Amount: 100, Currency: "USD",
		PaymentMethod: payments.CardVisa, IdempotencyKey: "ghost"}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Confirm(t.Context(), holdFor("unpaid-hold", 16).ID); err != nil {
		t.Fatal(err)
	}
	var report struct {
		Unmatched []any `json:"unmatched_charges"`
		Unpaid    []any `json:"paid_without_charges"`
	}
	f.must(200, "GET", "/api/v1/admin/payments/reconcile", nil, ann...).into(t, &report)
	if len(report.Unmatched) == 0 || len(report.Unpaid) == 0 {
		t.Errorf("reconcile = %+v; want the ghost charge and the unpaid confirmation listed", report)
	}
	f.must(200, "GET", "/api/v1/admin/payments/reconcile?since="+at(-24), nil, ann...)
	f.mustProblem(400, parking.EINVALID, "GET", "/api/v1/admin/payments/reconcile?since=last+week", nil, ann...)
	f.mustProblem(403, parking.EFORBIDDEN, "GET", "/api/v1/admin/payments/reconcile", nil, ada...)
	f.must(200, "GET", "/api/v1/users/"+sess.User.ID+"/payments", nil, ann...)

	// Admins create operators, the companies lots belong to.
	f.must(201, "POST", "/api/v1/operators", map[string]any{"name": "Acme Parking"}, with(ann, key("opr-1"))...)
	f.must(201, "POST", "/api/v1/operators", map[string]any{"name": "Acme Parking"}, with(ann, key("opr-1"))...)
	f.mustProblem(422, parking.EVALIDATION, "POST", "/api/v1/operators", map[string]any{"name": " "}, ann...)
	f.mustProblem(400, parking.EINVALID, "POST", "/api/v1/operators", map[string]any{"name": "X", "city": "Y"}, ann...)
	f.mustProblem(403, parking.EFORBIDDEN, "POST", "/api/v1/operators", map[string]any{"name": "Mine"}, ada...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "POST", "/api/v1/operators", map[string]any{"name": "Mine"})

	// Operators run lots.
	if _, err := authn.CreateUser(t.Context(), "Olga Operator", "olga@example.com", "operator password", parking.RoleOperator, fx.Operator.ID); err != nil {
		t.Fatal(err)
	}
	var opSess sessionResponse
	f.must(201, "POST", "/api/v1/sessions", map[string]any{"email": "olga@example.com", "password": "operator password"}).into(t, &opSess)
	olga := specBearer(opSess.Token)
	newLot := map[string]any{"name": "Harbour Garage", "address": "1 Quay St", "lat": 51.5, "lng": -0.12, "time_zone": "Europe/London",
		"currency": "gbp", "policy": map[string]any{"hold_ttl": "10m", "max_stay": "12h",
			"rates": map[string]any{"motorcycle": map[string]any{"hourly": 50}, "small": map[string]any{"hourly": 150, "daily_max": 900},
				"standard": map[string]any{"hourly": 200}, "suv": map[string]any{"hourly": 300}}}}
	var harbour parking.Lot
	f.must(201, "POST", "/api/v1/lots", newLot, with(olga, key("lot-1"))...).into(t, &harbour)
	f.must(201, "POST", "/api/v1/lots", newLot, with(olga, key("lot-1"))...)
	f.mustProblem(403, parking.EFORBIDDEN, "POST", "/api/v1/lots", newLot, ada...)
	f.mustProblem(403, parking.EFORBIDDEN, "POST", "/api/v1/lots", map[string]any{"operator_id": "opr_other", "name": "X"}, olga...)
	f.mustProblem(422, parking.EVALIDATION, "POST", "/api/v1/lots", map[string]any{"name": "Nowhere", "currency": "dollars", "time_zone": "Mars/Base"}, olga...)
	f.mustProblem(400, parking.EINVALID, "POST", "/api/v1/lots", map[string]any{"name": "Nowhere", "policy": map[string]any{"hold_tll": "5m"}}, olga...)
	f.mustProblem(400, parking.EINVALID, "POST", "/api/v1/lots", map[string]any{"name": "Nowhere", "policy": map[string]any{"hold_ttl": "soon"}}, olga...)
	hl := "/api/v1/lots/" + harbour.ID
	f.must(200, "PATCH", hl, map[string]any{"name": "Harbour Garage North", "lat": 51.51}, olga...)
	f.must(200, "PATCH", hl, map[string]any{"policy": map[string]any{"cancel_cutoff": "1h"}}, olga...)
	f.mustProblem(403, parking.EFORBIDDEN, "PATCH", hl, map[string]any{"name": "Mine now"}, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "PATCH", "/api/v1/lots/lot_missing", map[string]any{"name": "X"}, olga...)
	f.mustProblem(422, parking.EVALIDATION, "PATCH", hl, map[string]any{"time_zone": "Local", "name": " "}, olga...)
	f.mustProblem(400, parking.EINVALID, "PATCH", hl, map[string]any{"operator_id": "opr_other"}, olga...)
	f.must(200, "GET", hl, nil)

	var level parking.Level
	f.must(201, "POST", hl+"/levels", map[string]any{"name": "Ground", "ordinal": 0, "width": 120, "height": 60}, with(olga, key("level-1"))...).into(t, &level)
	f.must(201, "POST", hl+"/levels", map[string]any{"name": "Ground", "ordinal": 0, "width": 120, "height": 60}, with(olga, key("level-1"))...)
	f.mustProblem(422, parking.EVALIDATION, "POST", hl+"/levels", map[string]any{"name": "", "width": -1}, olga...)
	// Beyond a 32-bit integer: PostgreSQL's "integer out of range" was a 500.
	f.mustProblem(422, parking.EVALIDATION, "POST", hl+"/levels", map[string]any{"name": "Deep", "ordinal": -2147483649}, olga...)
	f.mustProblem(422, parking.EVALIDATION, "POST", hl+"/levels", map[string]any{"name": "High", "ordinal": 1001}, olga...)
	f.must(200, "PATCH", hl+"/levels/"+level.ID, map[string]any{"name": "Ground floor"}, olga...)
	f.mustProblem(404, parking.ENOTFOUND, "PATCH", hl+"/levels/lvl_missing", map[string]any{"name": "X"}, olga...)
	f.mustProblem(422, parking.EVALIDATION, "PATCH", hl+"/levels/"+level.ID, map[string]any{"height": -5}, olga...)
	f.mustProblem(422, parking.EVALIDATION, "PATCH", hl+"/levels/"+level.ID, map[string]any{"ordinal": 9223372036854775807}, olga...)

	var created struct{ Spots []parking.Spot }
	f.must(201, "POST", hl+"/spots", map[string]any{"spots": []any{
		map[string]any{"level_id": level.ID, "label": "G-01", "size": "standard", "lat": 51.5, "lng": -0.12, "x": 3, "y": 5, "amenities": []string{"EV", "ev "}},
		map[string]any{"level_id": level.ID, "label": "G-02", "size": "medium", "in_service": false},
	}}, with(olga, key("spots-1"))...).into(t, &created)
	f.mustProblem(422, parking.EVALIDATION, "POST", hl+"/spots", map[string]any{"spots": []any{
		map[string]any{"level_id": "lvl_missing", "label": "G-01", "size": "huge"},
		map[string]any{"label": "G-09", "size": "compact", "x": -1},
	}}, olga...)
	f.mustProblem(422, parking.EVALIDATION, "POST", hl+"/spots", map[string]any{"spots": []any{}}, olga...)
	g1 := hl + "/spots/" + created.Spots[0].ID
	f.must(200, "PATCH", g1, map[string]any{"amenities": []string{"ev", "covered"}, "label": "G-01A"}, olga...)
	f.mustProblem(422, parking.EVALIDATION, "PATCH", g1, map[string]any{"label": "G-02"}, olga...)
	f.mustProblem(404, parking.ENOTFOUND, "PATCH", hl+"/spots/"+fx.Spots[0].ID, map[string]any{"label": "X"}, olga...)
	f.must(200, "GET", hl+"/spots", nil)

	// A driver books the harbour spot, so it can neither shrink nor leave service quietly.
	var booked parking.Reservation
	f.must(201, "POST", "/api/v1/reservations", map[string]any{"lot_id": harbour.ID, "spot_id": created.Spots[0].ID, "vehicle_id": car.ID,
		"starts_at": at(1), "ends_at": at(2)}, with(ada, key("harbour-1"))...).into(t, &booked)
	f.mustProblem(409, parking.ESPOTOUTOFSERVICE, "POST", "/api/v1/reservations", map[string]any{"lot_id": harbour.ID, "spot_id": created.Spots[1].ID,
		"vehicle_id": car.ID, "starts_at": at(1), "ends_at": at(2)}, with(ada, key("harbour-2"))...)
	f.mustProblem(409, parking.ECONFLICT, "PATCH", g1, map[string]any{"size": "compact"}, olga...)
	f.must(200, "GET", hl+"/reservations", nil, olga...)
	f.must(200, "GET", hl+"/reservations?from="+at(0)+"&to="+at(5), nil, olga...)
	f.mustProblem(400, parking.EINVALID, "GET", hl+"/reservations?from="+at(0)+"&to="+at(24*40), nil, olga...)
	f.mustProblem(403, parking.EFORBIDDEN, "GET", hl+"/reservations", nil, ada...)
	f.must(200, "GET", "/api/v1/reservations/"+booked.ID, nil, olga...)
	f.mustProblem(403, parking.EFORBIDDEN, "POST", "/api/v1/reservations/"+booked.ID+"/payments", map[string]any{"payment_method": payments.CardVisa}, with(olga, key("olga-pays"))...)

	f.mustProblem(400, "idempotency_key_required", "POST", g1+"/out-of-service", nil, olga...)
	f.mustProblem(409, parking.ESPOTHASRESERVATIONS, "POST", g1+"/out-of-service", map[string]any{"reason": "flooded"}, with(olga, key("oos-1"))...)
	f.mustProblem(422, parking.EVALIDATION, "POST", g1+"/out-of-service", map[string]any{"reason": strings.Repeat("r", 501)}, with(olga, key("oos-2"))...)
	f.mustProblem(400, parking.EINVALID, "POST", g1+"/out-of-service", map[string]any{"force": "yes"}, with(olga, key("oos-3"))...)
	if x := f.must(200, "POST", g1+"/out-of-service", map[string]any{"force": true, "reason": "flooded"}, with(olga, key("oos-4"))...); !strings.Contains(string(x.body), booked.ID) {
		t.Errorf("forced out-of-service = %s; want %s among the cancelled", x.body, booked.ID)
	}
	f.must(200, "POST", g1+"/out-of-service", map[string]any{"force": true, "reason": "flooded"}, with(olga, key("oos-4"))...)
	f.must(200, "POST", g1+"/out-of-service", nil, with(olga, key("oos-5"))...)
	f.must(200, "POST", g1+"/in-service", nil, olga...)
	f.mustProblem(403, parking.EFORBIDDEN, "POST", g1+"/in-service", nil, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "POST", hl+"/spots/spt_missing/in-service", nil, olga...)

	var north struct {
		Gate parking.Gate
		Key  string
	}
	f.must(201, "POST", hl+"/gates", map[string]any{"name": "North entry", "direction": "entry"}, olga...).into(t, &north)
	f.mustProblem(422, parking.EVALIDATION, "POST", hl+"/gates", map[string]any{"name": "Side", "direction": "sideways"}, olga...)
	f.must(200, "GET", hl+"/gates", nil, olga...)
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/lots/lot_missing/gates", nil, olga...)
	f.mustProblem(403, parking.EFORBIDDEN, "GET", hl+"/gates", nil, ada...)
	f.mustProblem(403, parking.EFORBIDDEN, "POST", hl+"/gates", map[string]any{"name": "Mine", "direction": "exit"}, ada...)
	f.mustProblem(400, parking.EINVALID, "POST", hl+"/gates", map[string]any{"name": "Side", "kind": "exit"}, olga...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "GET", "/api/v1/users/me", nil, specBearer(north.Key)...)
	f.must(200, "GET", "/api/v1/lots", nil, specBearer(north.Key)...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "GET", "/api/v1/lots", nil, specBearer("pkg_unknown")...)

	// Kiosk pairing: a one-time link gives a kiosk the gate's new key, once.
	var pairing gate.NewPairing
	pairings := "/api/v1/gates/" + north.Gate.ID + "/pairings"
	f.must(201, "POST", pairings, nil, olga...).into(t, &pairing)
	f.mustProblem(404, parking.ENOTFOUND, "POST", pairings, nil, ada...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "POST", pairings, nil)
	var paired gate.Paired
	f.must(200, "POST", "/api/v1/kiosk-pairings", map[string]any{"token": pairing.Token}).into(t, &paired)
	f.mustProblem(409, parking.ECONFLICT, "POST", "/api/v1/kiosk-pairings", map[string]any{"token": pairing.Token})
	f.mustProblem(404, parking.ENOTFOUND, "POST", "/api/v1/kiosk-pairings", map[string]any{"token": "pkp_unknown"})
	f.mustProblem(400, parking.EINVALID, "POST", "/api/v1/kiosk-pairings", map[string]any{"code": pairing.Token})
	f.mustProblem(401, parking.EUNAUTHORIZED, "GET", "/api/v1/lots", nil, specBearer(north.Key)...)
	north.Key = paired.Key
	f.must(200, "GET", "/api/v1/lots", nil, specBearer(north.Key)...)

	// Invitations: an operator makes an existing account one of its operators.
	if _, err := authn.CreateUser(t.Context(), "Ivy Invited", "ivy@example.com", "invited password", parking.RoleDriver, ""); err != nil {
		t.Fatal(err)
	}
	members := "/api/v1/operators/" + fx.Operator.ID + "/members"
	f.must(200, "POST", members, map[string]any{"email": "Ivy@example.com"}, olga...)
	f.mustProblem(404, parking.ENOTFOUND, "POST", members, map[string]any{"email": "nobody@example.com"}, olga...)
	f.mustProblem(409, parking.ECONFLICT, "POST", members, map[string]any{"email": "ann@example.com"}, olga...)
	f.mustProblem(422, parking.EVALIDATION, "POST", members, map[string]any{"email": " "}, olga...)
	f.mustProblem(400, parking.EINVALID, "POST", members, map[string]any{"mail": "x"}, olga...)
	f.mustProblem(403, parking.EFORBIDDEN, "POST", members, map[string]any{"email": "ivy@example.com"}, ada...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "POST", members, map[string]any{"email": "ivy@example.com"})

	// Gates: a driver's pass, scans at the fixture lot's entry and exit, a
	// drive-up, what operators do by hand, and the log. The clock moves on
	// here, so this comes after everything that books from T0.
	type gateCreated struct {
		Gate parking.Gate
		Key  string
	}
	var entry, exit gateCreated
	f.must(201, "POST", lot+"/gates", map[string]any{"name": "Main entry", "direction": "entry"}, olga...).into(t, &entry)
	f.must(201, "POST", lot+"/gates", map[string]any{"name": "Main exit", "direction": "exit"}, olga...).into(t, &exit)
	entryDevice, exitDevice := specBearer(entry.Key), specBearer(exit.Key)
	scans := "/api/v1/gates/" + entry.Gate.ID + "/scans"
	exitScans := "/api/v1/gates/" + exit.Gate.ID + "/scans"
	decide := func(want gate.Decision, path string, body any, headers ...string) gate.Decision {
		t.Helper()
		var d gate.Decision
		f.must(200, "POST", path, body, headers...).into(t, &d)
		if d.Decision != want.Decision || d.Reason != want.Reason {
			t.Errorf("scan %s = %+v; want %s %s", body, d, want.Decision, want.Reason)
		}
		return d
	}
	visit := holdFor("gate-hold", 1) // an hour from now
	passOf := "/api/v1/reservations/" + visit.ID + "/pass"
	f.mustProblem(409, parking.ESTATUS, "GET", passOf, nil, ada...)
	f.mustProblem(409, parking.ESTATUS, "GET", passOf+".png", nil, ada...)
	f.must(201, "POST", payFor(visit), map[string]any{"payment_method": payments.CardVisa}, with(ada, key("gate-pay"))...)
	var visitPass gate.Pass
	f.must(200, "GET", passOf, nil, ada...).into(t, &visitPass)
	f.must(200, "GET", passOf, nil, olga...)
	if x := f.must(200, "GET", passOf+".png", nil, ada...); !bytes.HasPrefix(x.body, []byte("\x89PNG\r\n")) {
		t.Errorf("pass.png is not a PNG: %q...", x.body[:min(len(x.body), 8)])
	}
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/reservations/res_missing/pass", nil, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/reservations/res_missing/pass.png", nil, ada...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "GET", passOf, nil, entryDevice...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "GET", passOf+".png", nil)

	decide(gate.Decision{Decision: parking.Deny, Reason: gate.ReasonTooEarly}, scans, map[string]any{"code": visitPass.Code}, entryDevice...)
	decide(gate.Decision{Decision: parking.Deny, Reason: gate.ReasonNotInside}, exitScans, map[string]any{"code": visitPass.ManualCode}, exitDevice...)
	decide(gate.Decision{Decision: parking.Deny, Reason: gate.ReasonInvalidPass}, exitScans, map[string]any{"code": "P1.NOTAPASS"}, olga...) // a kiosk in the browser
	decide(gate.Decision{Decision: parking.Deny, Reason: gate.ReasonLotFull}, scans, map[string]any{"size": "suv", "plate": "big 1"}, entryDevice...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "POST", scans, map[string]any{"code": visitPass.Code})
	f.mustProblem(403, parking.EFORBIDDEN, "POST", scans, map[string]any{"code": visitPass.Code}, specBearer(north.Key)...)
	f.mustProblem(404, parking.ENOTFOUND, "POST", scans, map[string]any{"code": visitPass.Code}, ada...) // gates are not public
	f.mustProblem(404, parking.ENOTFOUND, "POST", "/api/v1/gates/gat_missing/scans", map[string]any{"code": visitPass.Code}, olga...)
	f.mustProblem(400, parking.EINVALID, "POST", scans, map[string]any{"pass": visitPass.Code}, entryDevice...)
	f.mustProblem(400, parking.EINVALID, "POST", scans, map[string]any{"size": "huge"}, entryDevice...)
	f.mustProblem(413, "too_large", "POST", scans, `{"plate": "`+strings.Repeat("A", MaxBodyBytes)+`"}`, entryDevice...)

	clock.Advance(50 * time.Minute) // within the lot's early arrival
	in := decide(gate.Decision{Decision: parking.Open, Reason: gate.ReasonOK}, scans, map[string]any{"code": visitPass.Code, "plate": "ab-123 c"}, entryDevice...)
	if in.ReservationID != visit.ID || in.SpotLabel == "" {
		t.Errorf("entry = %+v; want the reservation and its spot", in)
	}
	decide(gate.Decision{Decision: parking.Deny, Reason: gate.ReasonAlreadyInside}, scans, map[string]any{"code": visitPass.Code}, entryDevice...)
	f.mustProblem(409, parking.ESTATUS, "POST", "/api/v1/reservations/"+visit.ID+"/no-show", nil, olga...)
	decide(gate.Decision{Decision: parking.Open, Reason: gate.ReasonOK}, exitScans, map[string]any{"code": strings.ToLower(visitPass.ManualCode)}, exitDevice...)
	decide(gate.Decision{Decision: parking.Deny, Reason: gate.ReasonAlreadyLeft}, exitScans, map[string]any{"code": visitPass.Code}, exitDevice...)
	f.mustProblem(409, parking.ESTATUS, "POST", "/api/v1/reservations/"+visit.ID+"/checkout", nil, olga...)
	f.mustProblem(409, parking.ESTATUS, "GET", passOf, nil, ada...) // a stay that ended has no pass
	// A drive-up: in with a ticket, out once its time is paid.
	driveUp := decide(gate.Decision{Decision: parking.Open, Reason: gate.ReasonDriveUp}, scans, map[string]any{"plate": "dr-1"}, entryDevice...)
	if driveUp.Ticket == nil {
		t.Fatalf("drive-up = %+v; want a ticket", driveUp)
	}
	clock.Advance(90 * time.Minute)
	if d := decide(gate.Decision{Decision: parking.Deny, Reason: gate.ReasonPaymentRequired}, exitScans, map[string]any{"code": driveUp.Ticket.Code}, exitDevice...); d.AmountDue <= 0 {
		t.Errorf("drive-up exit = %+v; want an amount due", d)
	}
	if d := decide(gate.Decision{Decision: parking.Open, Reason: gate.ReasonOK}, exitScans, map[string]any{"code": driveUp.Ticket.Code, "payment_method": payments.CardVisa}, exitDevice...); d.Paid <= 0 {
		t.Errorf("drive-up exit paying = %+v; want something paid", d)
	}

	// Operators check a car out by hand, mark a no-show, and open a gate.
	stuck := decide(gate.Decision{Decision: parking.Open, Reason: gate.ReasonDriveUp}, scans, map[string]any{"size": "compact"}, entryDevice...)
	checkout := "/api/v1/reservations/" + stuck.ReservationID + "/checkout"
	f.mustProblem(404, parking.ENOTFOUND, "POST", checkout, nil, ada...) // not hers
	f.mustProblem(401, parking.EUNAUTHORIZED, "POST", checkout, nil, entryDevice...)
	var out parking.Reservation
	f.must(200, "POST", checkout, nil, olga...).into(t, &out)
	if out.Status != parking.StatusCompleted {
		t.Errorf("checked out by hand = %s; want completed", out.Status)
	}
	f.mustProblem(409, parking.ESTATUS, "POST", checkout, nil, olga...)
	f.mustProblem(404, parking.ENOTFOUND, "POST", "/api/v1/reservations/res_missing/checkout", nil, olga...)
	noShow := "/api/v1/reservations/" + pending.ID + "/no-show"
	f.mustProblem(403, parking.EFORBIDDEN, "POST", noShow, nil, ada...) // her own, but drivers cannot
	f.mustProblem(403, parking.EFORBIDDEN, "POST", "/api/v1/reservations/"+pending.ID+"/checkout", nil, ada...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "POST", noShow, nil)
	f.must(200, "POST", noShow, nil, ann...)
	f.mustProblem(409, parking.ESTATUS, "POST", noShow, nil, olga...)
	f.mustProblem(404, parking.ENOTFOUND, "POST", "/api/v1/reservations/res_missing/no-show", nil, olga...)
	open := "/api/v1/gates/" + exit.Gate.ID + "/open"
	var opened parking.GateEvent
	f.must(200, "POST", open, map[string]any{"reason": "ambulance"}, olga...).into(t, &opened)
	if opened.ActorID == "" || opened.Decision != parking.Open {
		t.Errorf("opened by hand = %+v; want open, with who", opened)
	}
	f.mustProblem(422, parking.EVALIDATION, "POST", open, map[string]any{"reason": " "}, olga...)
	f.mustProblem(422, parking.EVALIDATION, "POST", open, map[string]any{}, olga...)
	f.mustProblem(400, parking.EINVALID, "POST", open, map[string]any{"why": "ambulance"}, olga...)
	f.mustProblem(413, "too_large", "POST", open, `{"reason": "`+strings.Repeat("r", MaxBodyBytes)+`"}`, olga...)
	f.mustProblem(404, parking.ENOTFOUND, "POST", open, map[string]any{"reason": "let me out"}, ada...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "POST", open, map[string]any{"reason": "let me out"}, exitDevice...)
	f.mustProblem(404, parking.ENOTFOUND, "POST", "/api/v1/gates/gat_missing/open", map[string]any{"reason": "ambulance"}, olga...)

	// The log: every scan and the opening by hand, as JSON or CSV.
	events := lot + "/gate-events"
	var gateLog struct{ Events []parking.GateEvent }
	f.must(200, "GET", events, nil, olga...).into(t, &gateLog)
	if len(gateLog.Events) != 13 {
		t.Errorf("gate log = %d events; want 13 (12 decided scans and an opening by hand)", len(gateLog.Events))
	}
	f.must(200, "GET", events+"?from="+at(0)+"&to="+at(4)+"&reservation="+visit.ID+"&limit=2", nil, olga...).into(t, &gateLog)
	if len(gateLog.Events) != 2 || gateLog.Events[0].ReservationID != visit.ID {
		t.Errorf("gate log of %s, limit 2 = %+v", visit.ID, gateLog.Events)
	}
	f.must(200, "GET", events+"?plate=AB123C", nil, ann...)
	if x := f.must(200, "GET", events+"?format=csv", nil, olga...); !strings.HasPrefix(string(x.body), "at,gate_id,direction,") {
		t.Errorf("CSV export starts %q", x.body[:min(len(x.body), 40)])
	}
	f.must(200, "GET", events, nil, with(olga, []string{"Accept", "text/csv"})...)
	f.mustProblem(400, parking.EINVALID, "GET", events+"?from=yesterday", nil, olga...)
	f.mustProblem(400, parking.EINVALID, "GET", events+"?limit=0", nil, olga...)
	f.mustProblem(403, parking.EFORBIDDEN, "GET", events, nil, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/lots/lot_missing/gate-events", nil, olga...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "GET", events, nil, entryDevice...)

	// The lot's report as CSV: by day, by hour, by level.
	reports := lot + "/reports"
	if x := f.must(200, "GET", reports+"?from=2030-01-07&to=2030-01-08", nil, olga...); !strings.HasPrefix(string(x.body), "lot_id,date,time_zone,currency,charges,") {
		t.Errorf("report CSV starts %q", x.body[:min(len(x.body), 40)])
	}
	for _, table := range []string{"hours", "levels"} {
		f.must(200, "GET", reports+"?table="+table, nil, olga...)
	}
	f.mustProblem(400, parking.EINVALID, "GET", reports+"?from=yesterday", nil, olga...)
	f.mustProblem(400, parking.EINVALID, "GET", reports+"?from=2030-01-08&to=2030-01-07", nil, olga...)
	f.mustProblem(403, parking.EFORBIDDEN, "GET", reports, nil, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/lots/lot_missing/reports", nil, olga...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "GET", reports, nil, entryDevice...)

	// Notifications: Ada's in-app ones about what happened so far, her
	// settings and unsubscribe link, and the operator's webhook.
	if err := notifier.RunOnce(t.Context()); err != nil {
		t.Fatalf("notifier.RunOnce: %v", err)
	}
	inboxURL := "/api/v1/users/me/notifications"
	var inbox struct {
		Notifications []notificationView `json:"notifications"`
	}
	f.must(200, "GET", inboxURL, nil, ada...).into(t, &inbox)
	if len(inbox.Notifications) == 0 {
		t.Errorf("GET %s = no notifications; want some about Ada's bookings", inboxURL)
	}
	f.must(200, "GET", inboxURL+"?unread=true&limit=5", nil, ada...)
	f.mustProblem(400, parking.EINVALID, "GET", inboxURL+"?limit=0", nil, ada...)
	f.mustProblem(400, parking.EINVALID, "GET", inboxURL+"?unread=maybe", nil, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/users/usr_someone_else/notifications", nil, ada...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "GET", inboxURL, nil)
	if len(inbox.Notifications) > 0 {
		f.must(200, "POST", inboxURL+"/read", map[string]any{"ids": []string{inbox.Notifications[0].ID}}, ada...)
	}
	f.must(200, "POST", inboxURL+"/read", map[string]any{"all": true}, ada...)
	f.mustProblem(422, parking.EVALIDATION, "POST", inboxURL+"/read", map[string]any{}, ada...)
	f.mustProblem(400, parking.EINVALID, "POST", inboxURL+"/read", `{"ids": "ntf_1"}`, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "POST", "/api/v1/users/usr_someone_else/notifications/read", map[string]any{"all": true}, ada...)
	inboxStream, stopInbox := context.WithTimeout(t.Context(), 200*time.Millisecond)
	f.reqCtx = inboxStream
	f.must(200, "GET", inboxURL+"/live", nil, ada...)
	f.reqCtx = nil
	stopInbox()
	f.mustProblem(400, parking.EINVALID, "GET", inboxURL+"/live?since=yesterday", nil, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/users/usr_someone_else/notifications/live", nil, ada...)
	settings := "/api/v1/users/me/notification-settings"
	f.must(200, "GET", settings, nil, ada...)
	f.must(200, "PATCH", settings, map[string]any{"in_app": true, "reminder_lead": "1h"}, ada...)
	f.mustProblem(422, parking.EVALIDATION, "PATCH", settings, map[string]any{"reminder_lead": "10s"}, ada...)
	f.mustProblem(400, parking.EINVALID, "PATCH", settings, map[string]any{"reminder_lead": "soon"}, ada...)
	f.mustProblem(400, parking.EINVALID, "PATCH", settings, map[string]any{"colour": "red"}, ada...)
	f.mustProblem(404, parking.ENOTFOUND, "PATCH", "/api/v1/users/usr_someone_else/notification-settings", map[string]any{"email": false}, ada...)
	unsubscribe := "/api/v1/notifications/unsubscribe?token=" + notifier.UnsubscribeToken(sess.User.ID)
	f.must(200, "GET", unsubscribe, nil)
	f.mustProblem(400, parking.EINVALID, "GET", "/api/v1/notifications/unsubscribe", nil)
	f.mustProblem(400, parking.EINVALID, "POST", "/api/v1/notifications/unsubscribe?token=forged.00", nil)
	f.must(200, "POST", unsubscribe, nil)
	f.must(200, "POST", unsubscribe, "List-Unsubscribe=One-Click", "Content-Type", "application/x-www-form-urlencoded", "Accept", "text/html")
	hook := "/api/v1/operators/" + fx.Operator.ID + "/webhook"
	f.mustProblem(404, parking.ENOTFOUND, "GET", hook, nil, olga...)
	f.must(200, "PUT", hook, map[string]any{"url": "https://ops.example.com/parkd"}, olga...)
	f.must(200, "PUT", hook, map[string]any{"url": "https://ops.example.com/parkd", "secret": "a secret of sixteen+"}, olga...)
	f.mustProblem(422, parking.EVALIDATION, "PUT", hook, map[string]any{"url": "ftp://ops.example.com", "secret": "short"}, olga...)
	f.mustProblem(400, parking.EINVALID, "PUT", hook, `{"url": 7}`, olga...)
	f.mustProblem(403, parking.EFORBIDDEN, "PUT", hook, map[string]any{"url": "https://evil.example.com"}, ada...)
	f.mustProblem(403, parking.EFORBIDDEN, "GET", "/api/v1/operators/opr_other/webhook", nil, olga...)
	f.must(200, "GET", hook, nil, olga...)
	f.must(204, "DELETE", hook, nil, olga...)
	f.mustProblem(403, parking.EFORBIDDEN, "DELETE", hook, nil, ada...)

	// Requests no route serves.
	f.mustProblem(404, parking.ENOTFOUND, "GET", "/api/v1/nothing-here", nil)
	f.mustProblem(405, "method_not_allowed", "DELETE", "/api/v1/lots", nil)
	f.mustProblem(405, "method_not_allowed", "PUT", "/healthz", nil)

	// Sign-in throttling, from a client address of its own.
	f.remote = "198.51.100.7:4321"
	for range 5 {
		f.mustProblem(401, parking.EUNAUTHORIZED, "POST", "/api/v1/sessions", map[string]any{"email": "grace@example.com", "password": "not the password"})
	}
	if x := f.mustProblem(429, parking.ETOOMANYREQUESTS, "POST", "/api/v1/sessions", map[string]any{"email": "grace@example.com", "password": "any password"}); x.header.Get("Retry-After") == "" {
		t.Errorf("throttled sign-in has no Retry-After")
	}
	f.remote = "192.0.2.1:1234"

	f.must(204, "DELETE", "/api/v1/sessions/current", nil, ada...)
	f.mustProblem(401, parking.EUNAUTHORIZED, "DELETE", "/api/v1/sessions/current", nil, ada...)

	// Probe every route that changes something as a throwaway user.
	if _, err := authn.SignUp(t.Context(), "Probe", "probe@example.com", "probe password"); err != nil {
		t.Fatal(err)
	}
	probe, _, _, err := authn.SignIn(t.Context(), "probe@example.com", "probe password", "probe")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.probeIdempotency(doc, probe) {
		t.Error(p)
	}
	// A token that is no session's is refused on every route, public ones too.
	for _, pattern := range Routes() {
		method, path := specPath(pattern)
		f.mustProblem(401, parking.EUNAUTHORIZED, method, specURL(path), nil, specBearer("pks_no_such_session")...)
	}

	// Not ready: the database is gone. (A server of its own, so this one's
	// database stays.)
	dead := teststore.OpenSQLite(t)
	g := newSpecFlow(t, WithStore(Services{Log: log, Engine: booking.New(dead, clock), Auth: auth.New(dead, clock), Clock: clock}, dead))
	dead.Close()
	g.mustProblem(503, "unavailable", "GET", "/readyz", nil)
	f.exchanges = append(f.exchanges, g.exchanges...)

	succeeded, problems := f.check(doc)
	for _, p := range problems {
		t.Error(p)
	}
	var unmet []string
	for _, op := range doc.operations() {
		if !succeeded[op] {
			t.Errorf("%s never succeeded in this test: add it to the flow so its success response is checked", op)
		}
		method, path, _ := strings.Cut(op, " ")
		o, _ := doc.operation(method, path)
		for status := range o["responses"].(map[string]any) {
			if !succeeded[op+" "+status] {
				unmet = append(unmet, op+" "+status)
			}
		}
	}
	sort.Strings(unmet)
	t.Logf("documented responses this flow does not meet (%d): %s", len(unmet), strings.Join(unmet, "; "))

	// The check must bite: a document that is wrong about what the flow met
	// must fail it.
	object := func(d specDoc, ref string) map[string]any {
		v, ok := d.resolve(ref)
		if !ok {
			t.Fatalf("%s does not resolve", ref)
		}
		return v.(map[string]any)
	}
	mutations := []struct {
		name, want string
		mutate     func(d specDoc)
	}{
		{"a status left out", "answered 409, which openapi.json does not list", func(d specDoc) {
			delete(object(d, "#/paths/~1api~1v1~1reservations/post/responses"), "409")
		}},
		{"a field responses lack", `required property "parking_level" is missing`, func(d specDoc) {
			s := object(d, "#/components/schemas/Reservation")
			s["required"] = append(s["required"].([]any), "parking_level")
		}},
		{"a field left out", `property "amount" is not in the schema`, func(d specDoc) {
			delete(object(d, "#/components/schemas/Reservation/properties"), "amount")
		}},
		{"an enum too narrow", `"cancelled" is not one of`, func(d specDoc) {
			object(d, "#/components/schemas/ReservationStatus")["enum"] = []any{"held", "confirmed"}
		}},
		{"a wrong type", "want integer", func(d specDoc) {
			object(d, "#/components/schemas/Lot/properties/lat")["type"] = "integer"
		}},
		{"a request schema too strict", "breaks the documented request schema", func(d specDoc) {
			object(d, "#/components/schemas/SignUpRequest/properties/name")["maxLength"] = 3.0
		}},
		{"a header left out", "sends a Location header that the response does not document", func(d specDoc) {
			delete(object(d, "#/paths/~1api~1v1~1users/post/responses/201/headers"), "Location")
		}},
		{"a media type left out", `Content-Type "text/csv; charset=utf-8" is not documented`, func(d specDoc) {
			delete(object(d, "#/paths/~1api~1v1~1lots~1{lot}~1gate-events/get/responses/200/content"), "text/csv")
		}},
		{"a gate reason left out", `"too_early" is not one of`, func(d specDoc) {
			s := object(d, "#/components/schemas/GateReason")
			s["enum"] = slices.DeleteFunc(slices.Clone(s["enum"].([]any)), func(v any) bool { return v == "too_early" })
		}},
	}
	d := mustSpec(t)
	object(d, "#/components/parameters/IdempotencyKeyRequired")["required"] = false
	if problems := f.probeIdempotency(d, probe); !slices.ContainsFunc(problems, func(p string) bool {
		return strings.Contains(p, "POST /api/v1/reservations: Idempotency-Key required = false")
	}) {
		t.Errorf("with Idempotency-Key optional everywhere, the probe found only %q", problems)
	}
	d = mustSpec(t)
	delete(object(d, "#/paths/~1api~1v1~1lots~1{lot}~1levels/post"), "parameters")
	if problems := f.probeIdempotency(d, probe); !slices.ContainsFunc(problems, func(p string) bool {
		return strings.Contains(p, "POST /api/v1/lots/{lot}/levels honours Idempotency-Key")
	}) {
		t.Errorf("with no Idempotency-Key on createLevel, the probe found only %q", problems)
	}
	for _, m := range mutations {
		d := mustSpec(t)
		m.mutate(d)
		_, problems := f.check(d)
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, m.want) }) {
			t.Errorf("with %s, the check found %d problems, none saying %q", m.name, len(problems), m.want)
		}
	}
}

// probeIdempotency checks, for every route that changes something, that the
// document declares an Idempotency-Key exactly when the route honours one, and
// requires it exactly when the route does. It sends dummy requests as a
// throwaway user, twice with one key: a replay shows the key was honoured.
// It returns every mismatch.
func (f *specFlow) probeIdempotency(doc specDoc, token string) (problems []string) {
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	run := parking.NewID("probe") // keys of their own, so that probes can run again
	for i, pattern := range Routes() {
		method, path := specPath(pattern)
		if method == "GET" || method == "HEAD" {
			continue
		}
		if method == "DELETE" && path == "/api/v1/sessions/current" {
			continue // it would end the probe's session
		}
		op, ok := doc.operation(method, path)
		if !ok {
			continue // TestOpenAPIRoutes reports it
		}
		url := specURL(path)
		k := fmt.Sprintf("%s-%d", run, i)
		f.do(method, url, "{}", slices.Concat(specBearer(token), []string{"Idempotency-Key", k})...)
		replay := f.do(method, url, "{}", slices.Concat(specBearer(token), []string{"Idempotency-Key", k})...)
		honoured := replay.header.Get("Idempotent-Replayed") == "true"
		bare := f.do(method, url, "{}", specBearer(token)...)
		required := bare.status == http.StatusBadRequest && bare.problem().Code == "idempotency_key_required"

		p, declared := doc.parameter(op, "header", "Idempotency-Key")
		switch {
		case honoured && !declared:
			report("%s honours Idempotency-Key (a retry was replayed), but openapi.json does not declare it", pattern)
		case !honoured && declared && replay.status < 500:
			report("%s declares Idempotency-Key, but a retry with the same key was not replayed (%d %s)", pattern, replay.status, replay.body)
		case declared && required != (p["required"] == true):
			report("%s: Idempotency-Key required = %v in openapi.json; the route requires it: %v", pattern, p["required"], required)
		}
	}
	return problems
}

var specParam = regexp.MustCompile(`\{[^}]+\}`)

// specURL fills a path's parameters: "me" for a user, an id that names
// nothing for the rest.
func specURL(path string) string {
	return specParam.ReplaceAllStringFunc(path, func(m string) string {
		if m == "{id}" {
			return "me"
		}
		return "probe_missing"
	})
}
