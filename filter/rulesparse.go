package filter

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The document format is described, for the officers who edit it, at the top
// of rules.yaml. In short:
//
//	version: "2026-01-15"          # required
//	lists:                          # every list a rule may name
//	  national: National Do Not Call Registry
//	defaults:                       # a channel rule every purpose starts from
//	  lists: [national]
//	  hours: {start: "08:00", end: "21:00"}
//	  regions:
//	    US-FL: {hours: {start: "08:00", end: "20:00"}}
//	purposes:
//	  insurance:
//	    call: {}                    # the defaults as they are
//	    sms: {consent_required: true}
//
// A channel rule is folded from layers, generic to specific: defaults, the
// purpose's channel, then the country override (defaults' then the purpose's),
// then the subdivision override. A setting a layer writes replaces the one it
// inherits, except holidays, which are added. exemptions.relationship and
// exemptions.consent are each replaced as a whole.

// Problem is one thing wrong with a rule set document: the path of the node
// ("purposes.insurance.call.hours.start"), its line when known, and what is wrong.
type Problem struct {
	Path    string `json:"path"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// RulesError lists every problem found in a rule set document. ParseRules
// returns it as the cause of an *Error (kind EInvalid, code invalid_rules):
// get it with errors.As to show each problem.
type RulesError struct {
	Problems []Problem
}

func (e *RulesError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

func invalidRules(problems []Problem) error {
	noun := "problems"
	if len(problems) == 1 {
		noun = "problem"
	}
	return &Error{
		Kind:    EInvalid,
		Code:    CodeInvalidRules,
		Message: fmt.Sprintf("invalid rule set: %d %s", len(problems), noun),
		Err:     &RulesError{Problems: problems},
	}
}

// Limits that keep validation cheap whatever the input: aliases can make a
// small document name the same large node many times.
const (
	maxNodes      = 200_000
	maxMergeDepth = 8
	maxDays       = 3660 // relationship windows: ten years is already absurd
	maxCapWindow  = MaxCapWindow
	maxCapMax     = 1_000_000
)

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	regionRE = regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3})?$`)
)

// Field names, in the order messages list them.
var (
	rootFields         = []string{"version", "description", "lists", "defaults", "purposes", "emergencies", "sms"}
	purposeFields      = []string{"description", "call", "sms"}
	ruleFields         = []string{"lists", "consent_required", "exemptions", "hours", "day_hours", "days", "holidays", "caps", "wireless_prohibited", "renewal_window_days", "unanswered_per_day", "refusal_block_days", "regions"}
	regionFields       = ruleFields[:len(ruleFields)-1] // no nested regions
	exemptionFields    = []string{"relationship", "consent"}
	relationshipFields = []string{"lists", "purchase_days", "inquiry_days"}
	consentFields      = []string{"lists"}
	hoursFields        = []string{"start", "end"}
	capFields          = []string{"max", "window"}
	listFields         = []string{"description", "max_age_days"}
	emergencyFields    = []string{"region", "from", "to", "reason", "purposes", "channels"}
	smsFields          = []string{"start_reopts_in"}
)

// maxListAgeDays bounds a list's maximum age.
const maxListAgeDays = 3660

// layer is one partial channel rule as written: a nil pointer or a false has*
// flag means "not set here, inherit".
type layer struct {
	lists           []string
	hasLists        bool
	consentRequired *bool
	relationship    *relationshipExemption
	consentExempts  []string
	hasConsent      bool
	hours           *Hours
	dayHours        [7]*Hours
	days            *Weekdays
	wireless        *bool
	renewalDays     *int
	unansweredMax   *int
	refusalDays     *int
	holidays        Holidays // added to what is inherited
	caps            []Cap
	hasCaps         bool
	regions         map[string]*layer
	regionOrder     []string
}

type relationshipExemption struct {
	lists                     []string
	purchaseDays, inquiryDays int
}

type purposeLayer struct {
	name      string
	call, sms *layer
}

type field struct {
	key     string
	keyNode *yaml.Node
	value   *yaml.Node
}

type parser struct {
	problems  []Problem
	nodes     int
	exhausted bool
	lists     []ListDef
	known     map[string]bool
	knownList string // "internal, litigator, national, state", for messages

	emergencies []Emergency
	smsStart    bool
}

func parseRules(data []byte) (*RuleSet, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, invalidRules([]Problem{{Message: "not a valid YAML or JSON document: " + strings.TrimPrefix(err.Error(), "yaml: ")}})
	}
	p := &parser{known: map[string]bool{}}
	version, defaults, purposes := p.document(&doc)
	if len(p.problems) > 0 {
		return nil, invalidRules(p.problems)
	}
	maxAges := map[string]time.Duration{}
	for _, l := range p.lists {
		if l.MaxAgeDays > 0 {
			maxAges[l.Name] = time.Duration(l.MaxAgeDays) * 24 * time.Hour
		}
	}
	rs := build(version, defaults, purposes, maxAges)
	rs.lists = p.lists
	rs.emergencies = p.emergencies
	rs.smsStartReoptsIn = p.smsStart
	rs.source = bytes.Clone(data)
	return rs, nil
}

func (p *parser) problem(path string, n *yaml.Node, format string, args ...any) {
	if p.exhausted {
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	p.problems = append(p.problems, Problem{Path: path, Line: line, Message: fmt.Sprintf(format, args...)})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// resolve follows aliases and counts the work done; it returns nil once the
// budget is spent, after recording one problem.
func (p *parser) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 32 {
			return nil
		}
		n = n.Alias
	}
	p.nodes++
	if p.nodes > maxNodes {
		if !p.exhausted {
			p.problem("", nil, "the document is too large or aliases too much to validate (more than %d nodes)", maxNodes)
			p.exhausted = true
		}
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// fields returns the key/value pairs of mapping n, with merge keys (<<)
// applied, reporting duplicate keys and, when known is not nil, unknown ones.
// A null node is an empty mapping. ok is false when n is not a mapping.
func (p *parser) fields(path string, n *yaml.Node, known []string) (fs []field, ok bool) {
	n = p.resolve(n)
	if isNull(n) {
		return nil, !p.exhausted
	}
	if n.Kind != yaml.MappingNode {
		p.problem(path, n, "must be a mapping (key: value)")
		return nil, false
	}
	fs = p.pairs(path, n, 0)
	if known != nil {
		out := fs[:0]
		for _, f := range fs {
			if slices.Contains(known, f.key) {
				out = append(out, f)
				continue
			}
			p.problem(join(path, f.key), f.keyNode, "unknown field %q (known: %s)", f.key, strings.Join(known, ", "))
		}
		fs = out
	}
	return fs, true
}

func (p *parser) pairs(path string, n *yaml.Node, depth int) []field {
	var out []field
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := p.resolve(n.Content[i])
		if k == nil {
			continue
		}
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, n.Content[i+1])
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			p.problem(path, k, "keys must be plain names")
			continue
		}
		if hasField(out, k.Value) {
			p.problem(join(path, k.Value), k, "duplicate key: set once per mapping")
			continue
		}
		out = append(out, field{key: k.Value, keyNode: k, value: n.Content[i+1]})
	}
	for _, m := range merges {
		p.merge(path, m, &out, depth+1)
	}
	return out
}

// merge adds the fields of the mapping(s) v that out does not set: explicit
// keys win over merged ones, and earlier merges over later ones (YAML's rule).
func (p *parser) merge(path string, v *yaml.Node, out *[]field, depth int) {
	if depth > maxMergeDepth {
		p.problem(path, v, "merges (<<) nest more than %d deep", maxMergeDepth)
		return
	}
	v = p.resolve(v)
	if v == nil {
		return
	}
	switch v.Kind {
	case yaml.MappingNode:
		for _, f := range p.pairs(path, v, depth) {
			if !hasField(*out, f.key) {
				*out = append(*out, f)
			}
		}
	case yaml.SequenceNode:
		for _, item := range v.Content {
			p.merge(path, item, out, depth+1)
		}
	default:
		p.problem(path, v, "<< must merge a mapping or a list of mappings")
	}
}

func hasField(fs []field, key string) bool { return findField(fs, key) != nil }

func findField(fs []field, key string) *field {
	for i := range fs {
		if fs[i].key == key {
			return &fs[i]
		}
	}
	return nil
}

// scalar returns the text of a scalar node whatever YAML typed it as, so that
// 08:00, 2026-12-25 and 3 read as written.
func (p *parser) scalar(path string, n *yaml.Node, what string) (string, bool) {
	n = p.resolve(n)
	if n == nil {
		return "", false
	}
	if isNull(n) || n.Kind != yaml.ScalarNode {
		p.problem(path, n, "must be %s", what)
		return "", false
	}
	return n.Value, true
}

func (p *parser) boolean(path string, n *yaml.Node) (bool, bool) {
	n = p.resolve(n)
	if n == nil {
		return false, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.problem(path, n, "must be true or false")
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		p.problem(path, n, "must be true or false")
		return false, false
	}
	return b, true
}

func (p *parser) integer(path string, n *yaml.Node, lo, hi int) (int, bool) {
	n = p.resolve(n)
	if n == nil {
		return 0, false
	}
	var i int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
		p.problem(path, n, "must be a whole number")
		return 0, false
	}
	if i < lo || i > hi {
		p.problem(path, n, "%d is out of range: use %d to %d", i, lo, hi)
		return 0, false
	}
	return i, true
}

// sequence returns the items of a list; a null node is an empty list, so that
// "holidays:" followed only by comments means none.
func (p *parser) sequence(path string, n *yaml.Node) ([]*yaml.Node, bool) {
	n = p.resolve(n)
	if isNull(n) {
		return nil, !p.exhausted
	}
	if n.Kind != yaml.SequenceNode {
		p.problem(path, n, "must be a list")
		return nil, false
	}
	return n.Content, true
}

// document validates the whole document; the returned values are meaningful
// only when no problem was recorded.
func (p *parser) document(doc *yaml.Node) (version string, defaults *layer, purposes []purposeLayer) {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if isNull(root) {
		p.problem("", nil, "the document is empty: it needs version, lists and purposes")
		return
	}
	fs, ok := p.fields("", root, rootFields)
	if !ok {
		return
	}
	get := func(key string) *yaml.Node {
		if f := findField(fs, key); f != nil {
			return f.value
		}
		return nil
	}
	// Lists first: the rules below are checked against them.
	if n := get("lists"); n != nil {
		p.listDefs("lists", n)
	} else {
		p.problem("lists", root, "required: declare every do-not-contact list the rules name")
	}
	if n := get("version"); n != nil {
		if v, ok := p.scalar("version", n, `a name for this edition of the rules, like "2026-01-15"`); ok {
			switch {
			case strings.TrimSpace(v) == "":
				p.problem("version", n, "must not be empty")
			case len(v) > 128 || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' }):
				p.problem("version", n, "must be one line of at most 128 characters")
			default:
				version = v
			}
		}
	} else {
		p.problem("version", root, `required: a name for this edition of the rules, like "2026-01-15"`)
	}
	if n := get("description"); n != nil && !isNull(n) {
		p.scalar("description", n, "text")
	}
	if n := get("defaults"); n != nil {
		defaults = p.layer("defaults", n, true)
	}
	if n := get("purposes"); n != nil {
		purposes = p.purposes("purposes", n)
	} else {
		p.problem("purposes", root, "required: configure at least one purpose")
	}
	if n := get("emergencies"); n != nil {
		p.emergencyList("emergencies", n, purposes)
	}
	if n := get("sms"); n != nil {
		fs, _ := p.fields("sms", n, smsFields)
		for _, f := range fs {
			if b, ok := p.boolean(join("sms", f.key), f.value); ok {
				p.smsStart = b
			}
		}
	}
	return version, defaults, purposes
}

func (p *parser) listDefs(path string, n *yaml.Node) {
	fs, ok := p.fields(path, n, nil)
	if !ok {
		return
	}
	for _, f := range fs {
		fp := join(path, f.key)
		if !nameRE.MatchString(f.key) {
			// Still declared below, so that the rules naming it do not each
			// report it again as unknown.
			p.problem(fp, f.keyNode, "list name %q must be lower case letters, digits, '_', '-' or '.'", f.key)
		}
		def := ListDef{Name: f.key}
		switch v := p.resolve(f.value); {
		case isNull(v):
		case v.Kind == yaml.MappingNode:
			lfs, _ := p.fields(fp, v, listFields)
			for _, lf := range lfs {
				switch lf.key {
				case "description":
					def.Description, _ = p.scalar(join(fp, lf.key), lf.value, "a description of the list")
				case "max_age_days":
					def.MaxAgeDays, _ = p.integer(join(fp, lf.key), lf.value, 1, maxListAgeDays)
				}
			}
		default:
			def.Description, _ = p.scalar(fp, f.value, "a description of the list, or {description, max_age_days}")
		}
		p.lists = append(p.lists, def)
		p.known[f.key] = true
	}
	names := make([]string, 0, len(p.lists))
	for _, l := range p.lists {
		names = append(names, l.Name)
	}
	slices.Sort(names)
	p.knownList = strings.Join(names, ", ")
	if len(p.lists) == 0 {
		p.problem(path, n, "declare at least one list")
	}
}

func (p *parser) purposes(path string, n *yaml.Node) []purposeLayer {
	fs, ok := p.fields(path, n, nil)
	if !ok {
		return nil
	}
	if len(fs) == 0 && !p.exhausted {
		p.problem(path, n, "configure at least one purpose")
	}
	var out []purposeLayer
	for _, f := range fs {
		pp := join(path, f.key)
		if !nameRE.MatchString(f.key) {
			p.problem(pp, f.keyNode, "purpose name %q must be lower case letters, digits, '_', '-' or '.'", f.key)
			continue
		}
		pfs, ok := p.fields(pp, f.value, purposeFields)
		if !ok {
			continue
		}
		pl := purposeLayer{name: f.key}
		for _, cf := range pfs {
			switch cf.key {
			case "description":
				if !isNull(cf.value) {
					p.scalar(join(pp, cf.key), cf.value, "text")
				}
			case "call":
				pl.call = p.layer(join(pp, cf.key), cf.value, true)
			case "sms":
				pl.sms = p.layer(join(pp, cf.key), cf.value, true)
			}
		}
		if pl.call == nil && pl.sms == nil {
			p.problem(pp, f.keyNode, "configures no channel: add call, sms or both (an empty {} uses the defaults)")
		}
		out = append(out, pl)
	}
	return out
}

// layer parses a channel rule (withRegions) or a region override. It returns
// a non-nil layer even when there are problems, so that the caller can tell
// "written" from "absent".
func (p *parser) layer(path string, n *yaml.Node, withRegions bool) *layer {
	known := regionFields
	if withRegions {
		known = ruleFields
	}
	l := &layer{}
	fs, _ := p.fields(path, n, known)
	for _, f := range fs {
		fp := join(path, f.key)
		v := f.value
		switch f.key {
		case "lists":
			l.lists, l.hasLists = p.listNames(fp, v, false), true
		case "consent_required":
			if b, ok := p.boolean(fp, v); ok {
				l.consentRequired = &b
			}
		case "exemptions":
			p.exemptions(fp, v, l)
		case "hours":
			if h, ok := p.hours(fp, v); ok {
				l.hours = &h
			}
		case "day_hours":
			p.dayHours(fp, v, l)
		case "wireless_prohibited":
			if b, ok := p.boolean(fp, v); ok {
				l.wireless = &b
			}
		case "unanswered_per_day":
			if d, ok := p.integer(fp, v, 0, maxCapMax); ok {
				l.unansweredMax = &d
			}
		case "refusal_block_days":
			if d, ok := p.integer(fp, v, 0, maxDays); ok {
				l.refusalDays = &d
			}
		case "renewal_window_days":
			// 0 turns an inherited window off.
			if d, ok := p.integer(fp, v, 0, maxDays); ok {
				l.renewalDays = &d
			}
		case "days":
			if d, ok := p.days(fp, v); ok {
				l.days = &d
			}
		case "holidays":
			p.holidays(fp, v, &l.holidays)
		case "caps":
			l.caps, l.hasCaps = p.caps(fp, v), true
		case "regions":
			p.regions(fp, v, l)
		}
	}
	return l
}

// listNames reads a list of list names, each of which must be declared; in an
// exemption, internal is refused.
func (p *parser) listNames(path string, n *yaml.Node, exemption bool) []string {
	items, _ := p.sequence(path, n)
	out := make([]string, 0, len(items))
	for i, item := range items {
		ip := index(path, i)
		name, ok := p.scalar(ip, item, "a list name")
		if !ok {
			continue
		}
		switch {
		case exemption && name == InternalList:
			p.problem(ip, item, "the company's own do-not-call list %q is never exempted", InternalList)
		case !p.known[name]:
			p.problem(ip, item, "unknown list %q (known: %s)", name, p.knownList)
		case slices.Contains(out, name):
			p.problem(ip, item, "list %q is named twice", name)
		default:
			out = append(out, name)
		}
	}
	return out
}

func (p *parser) exemptions(path string, n *yaml.Node, l *layer) {
	fs, _ := p.fields(path, n, exemptionFields)
	for _, f := range fs {
		fp := join(path, f.key)
		switch f.key {
		case "relationship":
			r := &relationshipExemption{}
			rfs, _ := p.fields(fp, f.value, relationshipFields)
			for _, rf := range rfs {
				rp := join(fp, rf.key)
				switch rf.key {
				case "lists":
					r.lists = p.listNames(rp, rf.value, true)
				case "purchase_days":
					r.purchaseDays, _ = p.integer(rp, rf.value, 0, maxDays)
				case "inquiry_days":
					r.inquiryDays, _ = p.integer(rp, rf.value, 0, maxDays)
				}
			}
			if len(r.lists) > 0 && r.purchaseDays == 0 && r.inquiryDays == 0 {
				p.problem(fp, f.keyNode, "names lists but neither purchase_days nor inquiry_days is above 0: say how long a relationship exempts them")
			}
			l.relationship = r
		case "consent":
			cfs, _ := p.fields(fp, f.value, consentFields)
			l.consentExempts, l.hasConsent = []string{}, true
			for _, cf := range cfs {
				l.consentExempts = p.listNames(join(fp, cf.key), cf.value, true)
			}
		}
	}
}

func (p *parser) hours(path string, n *yaml.Node) (Hours, bool) {
	if isNull(p.resolve(n)) {
		p.problem(path, n, `must give start and end, like {start: "08:00", end: "21:00"}`)
		return Hours{}, false
	}
	fs, ok := p.fields(path, n, hoursFields)
	if !ok {
		return Hours{}, false
	}
	var h Hours
	var endNode *yaml.Node
	good := true
	for _, k := range hoursFields {
		fp := join(path, k)
		f := findField(fs, k)
		if f == nil {
			example := "08:00"
			if k == "end" {
				example = "21:00"
			}
			p.problem(fp, n, "required, like %q", example)
			good = false
			continue
		}
		s, ok := p.scalar(fp, f.value, "a time of day HH:MM")
		if !ok {
			good = false
			continue
		}
		c, ok := parseClock(s, k == "end")
		if !ok {
			p.problem(fp, f.value, "%q is not a time of day HH:MM", s)
			good = false
			continue
		}
		if k == "start" {
			h.Start = c
		} else {
			h.End, endNode = c, f.value
		}
	}
	if !good {
		return Hours{}, false
	}
	if h.End <= h.Start {
		p.problem(join(path, "end"), endNode, "%s must be after start %s", h.End, h.Start)
		return Hours{}, false
	}
	return h, true
}

// parseClock reads "HH:MM"; "24:00" is allowed only as the end of a window.
func parseClock(s string, end bool) (Clock, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, false
	}
	return Clock(h*60 + m), true
}

func (p *parser) days(path string, n *yaml.Node) (Weekdays, bool) {
	if isNull(p.resolve(n)) {
		p.problem(path, n, "must list the allowed days, like [mon, tue, wed, thu, fri]")
		return 0, false
	}
	items, ok := p.sequence(path, n)
	if !ok {
		return 0, false
	}
	var w Weekdays
	for i, item := range items {
		ip := index(path, i)
		s, good := p.scalar(ip, item, "a day name")
		if !good {
			ok = false
			continue
		}
		d, good := parseWeekday(s)
		if !good {
			p.problem(ip, item, "unknown day %q (use mon, tue, wed, thu, fri, sat, sun)", s)
			ok = false
			continue
		}
		if w.Has(d) {
			p.problem(ip, item, "day %q is listed twice", s)
		}
		w |= 1 << uint(d)
	}
	if ok && w == 0 {
		p.problem(path, n, "allow at least one day (to stop a channel, remove it from the purpose)")
		return 0, false
	}
	return w, ok
}

func parseWeekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(s)
	for d, name := range dayNames {
		if s == name || s == strings.ToLower(time.Weekday(d).String()) {
			return time.Weekday(d), true
		}
	}
	return 0, false
}

func (p *parser) holidays(path string, n *yaml.Node, h *Holidays) {
	items, _ := p.sequence(path, n)
	for i, item := range items {
		ip := index(path, i)
		s, ok := p.scalar(ip, item, `a date, "2026-12-25", or an annual date, "12-25"`)
		if !ok {
			continue
		}
		if t, err := time.Parse("2006-01-02", s); err == nil {
			h.dates = append(h.dates, int32(t.Year()*10000+int(t.Month())*100+t.Day()))
			continue
		}
		// Year 0 is a leap year, so "02-29" is accepted as an annual date.
		if t, err := time.Parse("01-02", s); err == nil {
			h.annual[t.Month()-1] |= 1 << uint(t.Day())
			continue
		}
		p.problem(ip, item, `%q is not a date "YYYY-MM-DD" nor an annual date "MM-DD"`, s)
	}
}

func (p *parser) caps(path string, n *yaml.Node) []Cap {
	items, _ := p.sequence(path, n)
	out := make([]Cap, 0, len(items))
	for i, item := range items {
		ip := index(path, i)
		fs, ok := p.fields(ip, item, capFields)
		if !ok {
			continue
		}
		var c Cap
		good := true
		for _, f := range fs {
			fp := join(ip, f.key)
			switch f.key {
			case "max":
				c.Max, ok = p.integer(fp, f.value, 1, maxCapMax)
			case "window":
				var s string
				if s, ok = p.scalar(fp, f.value, `a duration like "24h" or "7d"`); ok {
					if c.Window, ok = parseWindow(s); !ok {
						p.problem(fp, f.value, `%q is not a window greater than 0 and at most 366d, like "24h" or "7d"`, s)
					}
				}
			}
			good = good && ok
		}
		for _, k := range capFields {
			if !hasField(fs, k) {
				p.problem(join(ip, k), item, "required")
				good = false
			}
		}
		if good {
			out = append(out, c)
		}
	}
	return out
}

// parseWindow reads a Go duration ("24h", "90m") or a number of days ("7d").
func parseWindow(s string) (time.Duration, bool) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 366 {
			return 0, false
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, false
		}
	}
	return d, d > 0 && d <= maxCapWindow
}

func (p *parser) regions(path string, n *yaml.Node, l *layer) {
	fs, _ := p.fields(path, n, nil)
	for _, f := range fs {
		fp := join(path, f.key)
		if !regionRE.MatchString(f.key) {
			p.problem(fp, f.keyNode, `region %q is not an ISO 3166 code: a country like "US" or "CN", or a subdivision like "US-FL"`, f.key)
			continue
		}
		if l.regions == nil {
			l.regions = map[string]*layer{}
		}
		l.regions[f.key] = p.layer(fp, f.value, false)
		l.regionOrder = append(l.regionOrder, f.key)
	}
}

// dayHours reads per-weekday hours: {sun: {start: "13:30", end: "21:00"}}.
func (p *parser) dayHours(path string, n *yaml.Node, l *layer) {
	fs, _ := p.fields(path, n, nil)
	for _, f := range fs {
		fp := join(path, f.key)
		d, ok := parseWeekday(f.key)
		if !ok {
			p.problem(fp, f.keyNode, "unknown day %q (use mon, tue, wed, thu, fri, sat, sun)", f.key)
			continue
		}
		if h, ok := p.hours(fp, f.value); ok {
			l.dayHours[d] = &h
		}
	}
}

// emergencyList reads the declared states of emergency.
func (p *parser) emergencyList(path string, n *yaml.Node, purposes []purposeLayer) {
	items, _ := p.sequence(path, n)
	for i, item := range items {
		ip := index(path, i)
		fs, ok := p.fields(ip, item, emergencyFields)
		if !ok {
			continue
		}
		var e Emergency
		good := true
		var toNode *yaml.Node
		for _, k := range []string{"region", "from", "to", "reason"} {
			if !hasField(fs, k) {
				p.problem(join(ip, k), item, "required")
				good = false
			}
		}
		for _, f := range fs {
			fp := join(ip, f.key)
			switch f.key {
			case "region":
				if v, ok := p.scalar(fp, f.value, `a region like "US-FL" or "US"`); ok {
					if !regionRE.MatchString(v) {
						p.problem(fp, f.value, `region %q is not an ISO 3166 code: a country like "US" or a subdivision like "US-FL"`, v)
						good = false
					}
					e.Region = v
				} else {
					good = false
				}
			case "from", "to":
				v, ok := p.scalar(fp, f.value, `a date "YYYY-MM-DD"`)
				if !ok {
					good = false
					continue
				}
				t, err := time.Parse("2006-01-02", v)
				if err != nil {
					p.problem(fp, f.value, `%q is not a date "YYYY-MM-DD"`, v)
					good = false
					continue
				}
				if f.key == "from" {
					e.From = t
				} else {
					e.To, toNode = t, f.value
				}
			case "reason":
				if v, ok := p.scalar(fp, f.value, "why contact is blocked (the declaration)"); ok && strings.TrimSpace(v) != "" {
					e.Reason = v
				} else {
					if ok {
						p.problem(fp, f.value, "must not be empty: name the declaration")
					}
					good = false
				}
			case "purposes":
				items, _ := p.sequence(fp, f.value)
				for j, it := range items {
					v, ok := p.scalar(index(fp, j), it, "a purpose name")
					if !ok {
						good = false
						continue
					}
					if !slices.ContainsFunc(purposes, func(pl purposeLayer) bool { return pl.name == v }) {
						p.problem(index(fp, j), it, "unknown purpose %q", v)
						good = false
					}
					e.Purposes = append(e.Purposes, v)
				}
			case "channels":
				items, _ := p.sequence(fp, f.value)
				for j, it := range items {
					v, ok := p.scalar(index(fp, j), it, "a channel, call or sms")
					if !ok {
						good = false
						continue
					}
					ch, err := ParseChannel(v)
					if err != nil {
						p.problem(index(fp, j), it, "unknown channel %q: use call or sms", v)
						good = false
					}
					e.Channels = append(e.Channels, ch)
				}
			}
		}
		if good && e.To.Before(e.From) {
			p.problem(join(ip, "to"), toNode, "%s is before from %s", e.To.Format("2006-01-02"), e.From.Format("2006-01-02"))
			good = false
		}
		if good {
			p.emergencies = append(p.emergencies, e)
		}
	}
}

// build folds the validated layers into the precomputed policies.
func build(version string, defaults *layer, purposes []purposeLayer, maxAges map[string]time.Duration) *RuleSet {
	rs := &RuleSet{Version: version, purposes: make(map[string]*purposeRules, len(purposes))}
	for _, pl := range purposes {
		pr := &purposeRules{
			call: buildChannel(pl.name, ChannelCall, defaults, pl.call, maxAges),
			sms:  buildChannel(pl.name, ChannelSMS, defaults, pl.sms, maxAges),
		}
		rs.purposes[pl.name] = pr
		rs.names = append(rs.names, pl.name)
		for _, cr := range []*PolicySet{&pr.call, &pr.sms} {
			rs.outcomeWindow = max(rs.outcomeWindow, cr.base.OutcomeWindow())
			rs.capWindow = max(rs.capWindow, cr.base.LongestCapWindow())
			for _, p := range cr.regions {
				rs.outcomeWindow = max(rs.outcomeWindow, p.OutcomeWindow())
				rs.capWindow = max(rs.capWindow, p.LongestCapWindow())
			}
		}
	}
	slices.Sort(rs.names)
	return rs
}

func buildChannel(purpose string, ch Channel, defaults, l *layer, maxAges map[string]time.Duration) PolicySet {
	if l == nil {
		return PolicySet{base: &Policy{Purpose: purpose, Channel: ch}}
	}
	cr := PolicySet{base: fold(purpose, ch, "", maxAges, defaults, l)}
	var keys []string
	for _, src := range []*layer{defaults, l} {
		if src == nil {
			continue
		}
		for _, k := range src.regionOrder {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return cr
	}
	cr.regions = make(map[string]*Policy, len(keys))
	for _, k := range keys {
		if country, _, sub := strings.Cut(k, "-"); sub {
			cr.regions[k] = fold(purpose, ch, k, maxAges, defaults, l,
				region(defaults, country), region(l, country), region(defaults, k), region(l, k))
		} else {
			cr.regions[k] = fold(purpose, ch, k, maxAges, defaults, l, region(defaults, k), region(l, k))
		}
	}
	return cr
}

func region(l *layer, key string) *layer {
	if l == nil {
		return nil
	}
	return l.regions[key]
}

// fold applies layers in order, generic to specific: a setting replaces what is
// inherited, holidays are added.
func fold(purpose string, ch Channel, regionKey string, maxAges map[string]time.Duration, layers ...*layer) *Policy {
	p := &Policy{Purpose: purpose, Channel: ch, Region: regionKey, Allowed: true, Hours: allDay, Days: allWeekdays}
	var dayHours [7]*Hours
	for _, l := range layers {
		if l == nil {
			continue
		}
		if l.hasLists {
			p.Lists = l.lists
		}
		if l.consentRequired != nil {
			p.ConsentRequired = *l.consentRequired
		}
		if l.relationship != nil {
			p.RelationshipExempts = l.relationship.lists
			p.PurchaseDays, p.InquiryDays = l.relationship.purchaseDays, l.relationship.inquiryDays
		}
		if l.hasConsent {
			p.ConsentExempts = l.consentExempts
		}
		if l.hours != nil {
			p.Hours = *l.hours
		}
		if l.days != nil {
			p.Days = *l.days
		}
		for d, h := range l.dayHours {
			if h != nil {
				dayHours[d] = h
			}
		}
		if l.wireless != nil {
			p.WirelessProhibited = *l.wireless
		}
		if l.renewalDays != nil {
			p.RenewalWindowDays = *l.renewalDays
		}
		if l.unansweredMax != nil {
			p.UnansweredPerDay = *l.unansweredMax
		}
		if l.refusalDays != nil {
			p.RefusalBlockDays = *l.refusalDays
		}
		if l.hasCaps {
			p.Caps = l.caps
		}
		for m := range l.holidays.annual {
			p.Holidays.annual[m] |= l.holidays.annual[m]
		}
		p.Holidays.dates = append(p.Holidays.dates, l.holidays.dates...)
	}
	slices.Sort(p.Holidays.dates)
	p.Holidays.dates = slices.Clip(slices.Compact(p.Holidays.dates))

	for d := range p.DayHours {
		p.DayHours[d] = p.Hours
		if dayHours[d] != nil {
			p.DayHours[d] = *dayHours[d]
		}
	}
	p.ListMaxAges = make([]time.Duration, len(p.Lists))
	for i, name := range p.Lists {
		p.ListMaxAges[i] = maxAges[name]
		p.listAged = p.listAged || maxAges[name] > 0
	}
	p.listFlags = make([]uint8, len(p.Lists))
	relationship := p.PurchaseDays > 0 || p.InquiryDays > 0
	for i, name := range p.Lists {
		if name == InternalList {
			continue // never exempted, whatever the document says
		}
		if relationship && slices.Contains(p.RelationshipExempts, name) {
			p.listFlags[i] |= exemptByRelationship
		}
		if slices.Contains(p.ConsentExempts, name) {
			p.listFlags[i] |= exemptByConsent
		}
	}
	p.timeRestricted = p.Hours != allDay || p.Days != allWeekdays || !p.Holidays.empty()
	for _, h := range p.DayHours {
		p.timeRestricted = p.timeRestricted || h != allDay
	}
	for _, c := range p.Caps {
		p.longestWindow = max(p.longestWindow, c.Window)
	}
	return p
}
