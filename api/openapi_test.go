package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"callfilter/api"
	"callfilter/filter"
)

// The OpenAPI document is checked three ways: against the routes the app
// registers (both ways), by sending every request example in it through the
// real stack and validating the answer against the documented response, and
// by trying every operation with every role against its x-roles.

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas   map[string]any `json:"schemas"`
		Responses map[string]any `json:"responses"`
	} `json:"components"`
	Security []map[string][]string `json:"security"`
}

type operation struct {
	Method      string
	Path        string                 // as in the document: /v1/keys/{name}
	OperationID string                 `json:"operationId"`
	Security    *[]map[string][]string `json:"security"`
	Roles       []string               `json:"x-roles"`
	Request     *struct {
		Content map[string]struct {
			Schema   any                       `json:"schema"`
			Examples map[string]requestExample `json:"examples"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses  map[string]any `json:"responses"`
	Parameters []parameter    `json:"parameters"`
}

type parameter struct {
	Name    string `json:"name"`
	In      string `json:"in"`
	Example any    `json:"example"`
}

// requestExample is one example of a request body: its value (JSON for
// application/json, a JSON string holding the body for any other media type),
// the status and error code it gets, and x-query, the query parameters it is
// sent with over the parameters' own examples.
type requestExample struct {
	Value     json.RawMessage   `json:"value"`
	Status    int               `json:"x-status"`
	ErrorCode string            `json:"x-error-code"`
	Query     map[string]string `json:"x-query"`
}

var httpMethods = []string{"get", "put", "post", "delete", "patch", "options", "head"}

// loadDoc parses the embedded document and returns it with its operations,
// non-DELETE ones first (so that what an example deletes was created by
// another), each group by path and method.
func loadDoc(t *testing.T) (*openAPIDoc, []operation) {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatalf("api/openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	var ops []operation
	for path, item := range doc.Paths {
		var params []parameter
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &params); err != nil {
				t.Fatalf("%s parameters: %v", path, err)
			}
		}
		for _, m := range httpMethods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			op := operation{Method: strings.ToUpper(m), Path: path}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", m, path, err)
			}
			op.Parameters = append(op.Parameters, params...)
			ops = append(ops, op)
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		a, b := ops[i], ops[j]
		if (a.Method == "DELETE") != (b.Method == "DELETE") {
			return b.Method == "DELETE"
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
	return &doc, ops
}

// public reports whether op needs no key (security: []).
func (op operation) public() bool { return op.Security != nil && len(*op.Security) == 0 }

// url is op's path with its path parameters' examples (or the values in
// linked, from a link to op: see follow) and the query parameters that have
// an example, overridden by query.
func (op operation) url(t *testing.T, linked, query map[string]string) string {
	t.Helper()
	p := op.Path
	q := url.Values{}
	for _, prm := range op.Parameters {
		switch {
		case prm.In == "path":
			v, ok := linked[prm.Name]
			if !ok {
				if prm.Example == nil {
					t.Fatalf("%s %s: path parameter %s has no example", op.Method, op.Path, prm.Name)
				}
				v = fmt.Sprint(prm.Example)
			}
			p = strings.ReplaceAll(p, "{"+prm.Name+"}", v)
		case prm.In == "query" && prm.Example != nil:
			q.Set(prm.Name, fmt.Sprint(prm.Example))
		}
	}
	if strings.ContainsAny(p, "{}") {
		t.Fatalf("%s %s: a path parameter is not declared", op.Method, op.Path)
	}
	for k, v := range query {
		q.Set(k, v)
	}
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)\??`)

// TestOpenAPICoversRoutes: every route the app registers is in the document
// and every operation of the document is a registered route.
func TestOpenAPICoversRoutes(t *testing.T) {
	_, ops := loadDoc(t)
	e := newEnv(t)
	registered := map[string]bool{}
	for _, r := range e.srv.App().GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == "CONNECT" || r.Method == "TRACE" {
			continue // Fiber adds HEAD to every GET
		}
		registered[r.Method+" "+fiberParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for _, op := range ops {
		documented[op.Method+" "+op.Path] = true
	}
	for r := range registered {
		if !documented[r] {
			t.Errorf("route %s is registered but not in api/openapi.json: document it", r)
		}
	}
	for r := range documented {
		if !registered[r] {
			t.Errorf("api/openapi.json documents %s, which no route serves", r)
		}
	}
}

// TestOpenAPIReasonCodes: the document's ReasonCode enum is exactly the
// reason codes the filter package declares (every constant of type
// ReasonCode in its source), so that a new code cannot ship undocumented.
func TestOpenAPIReasonCodes(t *testing.T) {
	doc, _ := loadDoc(t)
	var documented []string
	enum, _ := doc.Components.Schemas["ReasonCode"].(map[string]any)["enum"].([]any)
	for _, c := range enum {
		documented = append(documented, fmt.Sprint(c))
	}
	declared := filterReasonCodes(t)
	if len(declared) < 20 {
		t.Fatalf("found only %d reason codes in ../filter: %v (has the declaration changed?)", len(declared), declared)
	}
	for _, c := range declared {
		if !slices.Contains(documented, c) {
			t.Errorf("reason code %q is declared in filter but missing from the ReasonCode enum of api/openapi.json", c)
		}
	}
	for _, c := range documented {
		if !slices.Contains(declared, c) {
			t.Errorf("api/openapi.json documents reason code %q, which filter does not declare", c)
		}
	}
}

// filterReasonCodes returns the values of the constants of type ReasonCode
// declared in the filter package's (non-test) source.
func filterReasonCodes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../filter/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("filter sources: %v (%d files)", err, len(files))
	}
	var codes []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "ReasonCode" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: a ReasonCode constant that is not a string literal", fset.Position(v.Pos()))
					}
					c, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					codes = append(codes, c)
				}
			}
		}
	}
	return codes
}

// TestOpenAPIExamples sends every request example of the document through the
// real stack and checks the status, the error code and the body against the
// documented response; an operation without a request body is sent as is.
// Response examples are checked against their own schemas. A response's
// links give the operations they name their path parameters (a created scrub
// job's id); an operation reached by a link may be asynchronous, so it is
// asked again while it answers 409 (a job not done yet).
func TestOpenAPIExamples(t *testing.T) {
	doc, ops := loadDoc(t)
	v := validator{doc: doc}
	jobs := t.TempDir()
	e := newEnv(t, func(c *envConfig) { c.opts.ScrubDir = jobs })
	// Stops the job runner (a shutdown hook) before the folder is removed.
	t.Cleanup(func() { _ = e.srv.App().Shutdown() })
	linked := map[string]map[string]string{} // operationId → path parameter → value
	for _, op := range ops {
		name := op.Method + " " + op.Path
		for status, r := range op.Responses {
			for _, ex := range v.responseExamples(r) {
				if err := v.validate(ex.schema, ex.value, "example"); err != nil {
					t.Errorf("%s: the %s response example does not match its schema: %v", name, status, err)
				}
			}
		}
		if op.Request == nil {
			req := func() *http.Request { return op.request(t, e, "", nil, linked[op.OperationID], nil) }
			res := e.send(t, req())
			for deadline := time.Now().Add(10 * time.Second); linked[op.OperationID] != nil && res.status == http.StatusConflict && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
				res = e.send(t, req())
			}
			want := op.successStatus(t)
			if res.status != want {
				t.Errorf("%s: status %d, want %d: %s", name, res.status, want, res.body)
				continue
			}
			v.checkResponse(t, name, op, res)
			continue
		}
		examples := 0
		for _, mt := range sortedKeys(op.Request.Content) {
			media := op.Request.Content[mt]
			for _, exName := range sortedKeys(media.Examples) {
				examples++
				ex := media.Examples[exName]
				what := fmt.Sprintf("%s %s example %q", name, mt, exName)
				if ex.Status == 0 {
					t.Errorf("%s: no x-status", what)
					continue
				}
				body := []byte(ex.Value)
				if mt == "application/json" {
					if ex.Status < 400 {
						var val any
						_ = json.Unmarshal(ex.Value, &val)
						if err := v.validate(media.Schema, val, "request"); err != nil {
							t.Errorf("%s: the example does not match the request schema: %v", what, err)
						}
					}
				} else {
					var text string
					if err := json.Unmarshal(ex.Value, &text); err != nil {
						t.Errorf("%s: the value of a %s example must be a string holding the body: %v", what, mt, err)
						continue
					}
					body = []byte(text)
				}
				res := e.send(t, op.request(t, e, mt, body, linked[op.OperationID], ex.Query))
				if res.status != ex.Status {
					t.Errorf("%s: status %d, want %d: %s", what, res.status, ex.Status, res.body)
					continue
				}
				if ex.ErrorCode != "" {
					if got := errorOf(t, res).Error.Code; got != ex.ErrorCode {
						t.Errorf("%s: error code %q, want %q", what, got, ex.ErrorCode)
					}
				}
				v.checkResponse(t, what, op, res)
				v.follow(t, what, op, res, linked)
				if strings.HasPrefix(op.Path, "/v1/check") && res.status == http.StatusOK {
					var body struct{ Results []json.RawMessage }
					results := []json.RawMessage{res.body}
					if op.Path == "/v1/check/batch" {
						decode(t, res, &body)
						results = body.Results
					}
					for _, r := range results {
						if _, err := validateCheck(r); err != nil {
							t.Errorf("%s: %v: %s", what, err, r)
						}
					}
				}
			}
		}
		if examples == 0 {
			t.Errorf("%s: the request body has no examples", name)
		}
	}
	for id := range linked {
		if !slices.ContainsFunc(ops, func(op operation) bool { return op.OperationID == id }) {
			t.Errorf("a link names operationId %q, which no operation has", id)
		}
	}
}

// follow records, for each link of the response res got, the path
// parameters it gives its operation ("$response.body#/id": the body's id).
func (v validator) follow(t *testing.T, what string, op operation, res response, linked map[string]map[string]string) {
	t.Helper()
	links, _ := v.resolve(op.Responses[fmt.Sprint(res.status)])["links"].(map[string]any)
	if len(links) == 0 {
		return
	}
	var body map[string]any
	if err := json.Unmarshal(res.body, &body); err != nil {
		t.Errorf("%s: links need a JSON object body: %v", what, err)
		return
	}
	for name, l := range links {
		link, _ := l.(map[string]any)
		id, _ := link["operationId"].(string)
		params, _ := link["parameters"].(map[string]any)
		for p, expr := range params {
			field, ok := strings.CutPrefix(fmt.Sprint(expr), "$response.body#/")
			val, found := body[field]
			if !ok || strings.Contains(field, "/") || !found {
				t.Errorf("%s: link %s: parameter %s = %v: want $response.body#/<a field of the body>", what, name, p, expr)
				continue
			}
			if linked[id] == nil {
				linked[id] = map[string]string{}
			}
			linked[id][p] = fmt.Sprint(val)
		}
	}
}

// TestOpenAPIRoles: an operation answers 403 to exactly the roles its x-roles
// leaves out, 401 without a key, and a public one needs no key.
func TestOpenAPIRoles(t *testing.T) {
	_, ops := loadDoc(t)
	e := newEnv(t)
	for _, op := range ops {
		name := op.Method + " " + op.Path
		var body []byte
		if op.Request != nil {
			body = []byte(`{}`)
		}
		if op.public() {
			if len(op.Roles) != 0 {
				t.Errorf("%s: public, yet x-roles %v", name, op.Roles)
			}
			if res := e.send(t, op.requestAs(t, "", "application/json", body, nil, nil)); res.status == http.StatusUnauthorized || res.status == http.StatusForbidden {
				t.Errorf("%s without a key: status %d, want it served", name, res.status)
			}
			continue
		}
		if len(op.Roles) == 0 {
			t.Errorf("%s: no x-roles", name)
		}
		if _, ok := op.Responses["401"]; !ok {
			t.Errorf("%s: needs a key but documents no 401", name)
		}
		if res := e.send(t, op.requestAs(t, "", "application/json", body, nil, nil)); res.status != http.StatusUnauthorized {
			t.Errorf("%s without a key: status %d, want 401", name, res.status)
		}
		for _, r := range roles {
			res := e.send(t, op.requestAs(t, e.keys[r], "application/json", body, nil, nil))
			allowed := slices.Contains(op.Roles, string(r))
			if allowed == (res.status == http.StatusForbidden) {
				t.Errorf("%s as %s: status %d, but x-roles is %v", name, r, res.status, op.Roles)
			}
		}
	}
}

// TestOpenAPIServed: /openapi.json serves the document, without a key.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	res := e.do(t, "", "GET", "/openapi.json", "")
	if res.status != http.StatusOK {
		t.Fatalf("GET /openapi.json: status %d", res.status)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if string(res.body) != string(api.OpenAPI()) {
		t.Errorf("GET /openapi.json is not the embedded document")
	}
}

// request is op as the admin (no key if op is public) with body of media
// type mt (none if body is nil), path parameters from linked and query.
func (op operation) request(t *testing.T, e *env, mt string, body []byte, linked, query map[string]string) *http.Request {
	t.Helper()
	secret := e.keys[filter.RoleAdmin]
	if op.public() {
		secret = ""
	}
	return op.requestAs(t, secret, mt, body, linked, query)
}

func (op operation) requestAs(t *testing.T, secret, mt string, body []byte, linked, query map[string]string) *http.Request {
	t.Helper()
	var req *http.Request
	if body != nil {
		req = httptest.NewRequest(op.Method, op.url(t, linked, query), bytes.NewReader(body))
		req.Header.Set("Content-Type", mt)
	} else {
		req = httptest.NewRequest(op.Method, op.url(t, linked, query), nil)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	return req
}

// successStatus is the lowest 2xx status op documents.
func (op operation) successStatus(t *testing.T) int {
	t.Helper()
	best := 0
	for s := range op.Responses {
		var n int
		if _, err := fmt.Sscan(s, &n); err == nil && n >= 200 && n < 300 && (best == 0 || n < best) {
			best = n
		}
	}
	if best == 0 {
		t.Fatalf("%s %s documents no 2xx response", op.Method, op.Path)
	}
	return best
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// validator checks JSON values against the subset of JSON Schema the document
// uses: $ref, type (one or several), enum, const, required, properties,
// additionalProperties: false, items, minItems, maxItems, minimum, maximum,
// pattern and format: date-time.
type validator struct{ doc *openAPIDoc }

// resolve follows a $ref into the components.
func (v validator) resolve(x any) map[string]any {
	m, _ := x.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		switch {
		case strings.HasPrefix(ref, "#/components/schemas/"):
			m, _ = v.doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
		case strings.HasPrefix(ref, "#/components/responses/"):
			m, _ = v.doc.Components.Responses[strings.TrimPrefix(ref, "#/components/responses/")].(map[string]any)
		default:
			return nil
		}
	}
	return m
}

func (v validator) validate(schema, val any, at string) error {
	s := v.resolve(schema)
	if s == nil {
		return fmt.Errorf("%s: unresolvable schema %v", at, schema)
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(ty string) bool { return jsonType(val, ty) }) {
			return fmt.Errorf("%s: %v is not of type %v", at, val, types)
		}
	}
	if c, ok := s["const"]; ok && c != val {
		return fmt.Errorf("%s: %v, want %v", at, val, c)
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, val) {
		return fmt.Errorf("%s: %v is not one of %v", at, val, enum)
	}
	switch val := val.(type) {
	case float64:
		if n, ok := s["minimum"].(float64); ok && val < n {
			return fmt.Errorf("%s: %v is below the minimum %v", at, val, n)
		}
		if n, ok := s["maximum"].(float64); ok && val > n {
			return fmt.Errorf("%s: %v is above the maximum %v", at, val, n)
		}
	case string:
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(val) {
			return fmt.Errorf("%s: %q does not match %s", at, val, p)
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339, val); err != nil {
				return fmt.Errorf("%s: %q is not RFC 3339", at, val)
			}
		}
	case []any:
		if n, ok := s["minItems"].(float64); ok && float64(len(val)) < n {
			return fmt.Errorf("%s: %d items, want at least %v", at, len(val), n)
		}
		if n, ok := s["maxItems"].(float64); ok && float64(len(val)) > n {
			return fmt.Errorf("%s: %d items, want at most %v", at, len(val), n)
		}
		if items, ok := s["items"]; ok {
			for i, x := range val {
				if err := v.validate(items, x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := val[r.(string)]; !ok {
					return fmt.Errorf("%s: the required field %q is missing", at, r)
				}
			}
		}
		for k, x := range val {
			ps, ok := props[k]
			if !ok {
				if s["additionalProperties"] == false {
					return fmt.Errorf("%s: the field %q is not documented", at, k)
				}
				continue
			}
			if err := v.validate(ps, x, at+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

func jsonType(val any, ty string) bool {
	switch ty {
	case "null":
		return val == nil
	case "boolean":
		_, ok := val.(bool)
		return ok
	case "string":
		_, ok := val.(string)
		return ok
	case "number":
		_, ok := val.(float64)
		return ok
	case "integer":
		f, ok := val.(float64)
		return ok && f == math.Trunc(f)
	case "array":
		_, ok := val.([]any)
		return ok
	case "object":
		_, ok := val.(map[string]any)
		return ok
	}
	return false
}

type schemaExample struct {
	schema, value any
}

// responseExamples returns the JSON examples of a response object.
func (v validator) responseExamples(r any) []schemaExample {
	var out []schemaExample
	content, _ := v.resolve(r)["content"].(map[string]any)
	for _, m := range content {
		media, _ := m.(map[string]any)
		if ex, ok := media["example"]; ok {
			out = append(out, schemaExample{media["schema"], ex})
		}
	}
	return out
}

// checkResponse validates res against what op documents for its status.
func (v validator) checkResponse(t *testing.T, what string, op operation, res response) {
	t.Helper()
	doc, ok := op.Responses[fmt.Sprint(res.status)]
	if !ok {
		t.Errorf("%s: status %d is not documented", what, res.status)
		return
	}
	r := v.resolve(doc)
	content, _ := r["content"].(map[string]any)
	if len(content) == 0 {
		if len(res.body) != 0 {
			t.Errorf("%s: documented without a body, got %s", what, res.body)
		}
		return
	}
	ct := res.header.Get("Content-Type")
	for mt, m := range content {
		if !strings.HasPrefix(ct, mt) {
			continue
		}
		if mt != "application/json" {
			return
		}
		var val any
		if err := json.Unmarshal(res.body, &val); err != nil {
			t.Errorf("%s: body is not JSON: %v", what, err)
			return
		}
		media, _ := m.(map[string]any)
		if err := v.validate(media["schema"], val, "response"); err != nil {
			t.Errorf("%s: %v\n%s", what, err, res.body)
		}
		return
	}
	t.Errorf("%s: Content-Type %q is not documented (%v)", what, ct, sortedKeys(content))
}
