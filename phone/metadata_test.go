package phone

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// These tests prove the premise of the fast path's cache (see fast.go): for
// 10-digit +1 numbers, everything the metadata says is decided by the first
// six national digits, except in nanpPrefixesNeedingFullNumber. They read the
// library's own metadata, so a library upgrade that breaks the premise fails
// here, naming the prefixes to add.

const nanpLen = 10 // national significant number length of a NANP number

// nanpPatterns returns, deduplicated, every pattern phonenumbers consults to
// decide validity, region and type of a 10-digit +1 number, as full-match
// expressions over the national number.
func nanpPatterns(t *testing.T) []string {
	t.Helper()
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatalf("MetadataCollection: %v", err)
	}
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, m := range coll.GetMetadata() {
		if m.GetCountryCode() != 1 {
			continue
		}
		if ld := m.GetLeadingDigits(); ld != "" {
			add("(?:" + ld + ")\\d*") // leading digits match a prefix
		}
		descs := []*phonenumbers.PhoneNumberDesc{
			m.GetGeneralDesc(), m.GetFixedLine(), m.GetMobile(), m.GetTollFree(),
			m.GetPremiumRate(), m.GetSharedCost(), m.GetPersonalNumber(), m.GetVoip(),
			m.GetPager(), m.GetUan(), m.GetVoicemail(),
		}
		for _, d := range descs {
			if d == nil || d.GetNationalNumberPattern() == "" {
				continue
			}
			// A desc whose possible lengths exclude 10 never matches a
			// 10-digit number, whatever its pattern.
			if pl := d.GetPossibleLength(); len(pl) > 0 && !slices.Contains(pl, int32(nanpLen)) {
				continue
			}
			add(d.GetNationalNumberPattern())
		}
	}
	if len(out) < 20 {
		t.Fatalf("found only %d NANP patterns: metadata layout changed?", len(out))
	}
	return out
}

// digitNFA runs a compiled regular expression over fixed-length digit strings,
// as sets of program states, so that all 10^10 strings can be reasoned about
// through the few distinct state sets they lead to.
type digitNFA struct {
	prog *syntax.Prog
	sets map[string]int // state set → id
	list [][]uint32     // id → state set
	next map[[3]int]int // (id, digit, position) → id
	// completions[depth][id] = how many digit strings of length length-depth
	// lead from state set id at depth to a match; -1 if not computed.
	completions map[[2]int]int
	length      int // of the digit strings matched
}

// newDigitNFA compiles pattern as a full match over digit strings of the
// given length.
func newDigitNFA(t *testing.T, pattern string, length int) *digitNFA {
	t.Helper()
	re, err := syntax.Parse("^(?:"+pattern+")$", syntax.Perl)
	if err != nil {
		t.Fatalf("parse %q: %v", pattern, err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		t.Fatalf("compile %q: %v", pattern, err)
	}
	return &digitNFA{prog: prog, sets: map[string]int{}, next: map[[3]int]int{}, completions: map[[2]int]int{}, length: length}
}

// closure adds to set the states reachable from pc without reading a digit, at
// position pos of a digit string.
func (n *digitNFA) closure(set map[uint32]bool, pc uint32, pos int) {
	if set[pc] {
		return
	}
	set[pc] = true
	inst := n.prog.Inst[pc]
	switch inst.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		n.closure(set, inst.Out, pos)
		n.closure(set, inst.Arg, pos)
	case syntax.InstCapture, syntax.InstNop:
		n.closure(set, inst.Out, pos)
	case syntax.InstEmptyWidth:
		before, after := rune('0'), rune('0')
		if pos == 0 {
			before = -1
		}
		if pos == n.length {
			after = -1
		}
		if inst.MatchEmptyWidth(before, after) {
			n.closure(set, inst.Out, pos)
		}
	}
}

func (n *digitNFA) intern(set map[uint32]bool) int {
	pcs := make([]uint32, 0, len(set))
	for pc := range set {
		pcs = append(pcs, pc)
	}
	slices.Sort(pcs)
	key := fmt.Sprint(pcs)
	if id, ok := n.sets[key]; ok {
		return id
	}
	n.sets[key] = len(n.list)
	n.list = append(n.list, pcs)
	return len(n.list) - 1
}

func (n *digitNFA) start() int {
	set := map[uint32]bool{}
	n.closure(set, uint32(n.prog.Start), 0)
	return n.intern(set)
}

// step reads digit d at position pos (so the result is at pos+1).
func (n *digitNFA) step(id int, d byte, pos int) int {
	k := [3]int{id, int(d), pos}
	if to, ok := n.next[k]; ok {
		return to
	}
	set := map[uint32]bool{}
	r := rune('0' + d)
	for _, pc := range n.list[id] {
		inst := n.prog.Inst[pc]
		switch inst.Op {
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			if inst.Op == syntax.InstRuneAny || inst.Op == syntax.InstRuneAnyNotNL || inst.MatchRune(r) {
				n.closure(set, inst.Out, pos+1)
			}
		}
	}
	to := n.intern(set)
	n.next[k] = to
	return to
}

func (n *digitNFA) accepts(id int) bool {
	for _, pc := range n.list[id] {
		if n.prog.Inst[pc].Op == syntax.InstMatch {
			return true
		}
	}
	return false
}

// matchingCompletions counts the digit strings that complete a string at depth
// in state set id to a match.
func (n *digitNFA) matchingCompletions(depth, id int) int {
	if depth == n.length {
		if n.accepts(id) {
			return 1
		}
		return 0
	}
	k := [2]int{depth, id}
	if c, ok := n.completions[k]; ok {
		return c
	}
	c := 0
	for d := range byte(10) {
		c += n.matchingCompletions(depth+1, n.step(id, d, depth))
	}
	n.completions[k] = c
	return c
}

// prefixesDecidedLater returns the prefixes of prefixLen digits after which
// the pattern matches some but not all of their completions. (The state-set steps
// depend on position only through ^ and $, which the digit strings reach at
// the same positions, so memoising on (depth, set) is exact.)
func (n *digitNFA) prefixesDecidedLater(prefixLen int) []int {
	all := 1
	for range n.length - prefixLen {
		all *= 10
	}
	undecided := func(id int) bool {
		c := n.matchingCompletions(prefixLen, id)
		return c != 0 && c != all
	}
	// hasUndecided[depth,id]: some prefix continuing from here is undecided.
	memo := map[[2]int]bool{}
	var has func(depth, id int) bool
	has = func(depth, id int) bool {
		if depth == prefixLen {
			return undecided(id)
		}
		k := [2]int{depth, id}
		if v, ok := memo[k]; ok {
			return v
		}
		v := false
		for d := range byte(10) {
			if has(depth+1, n.step(id, d, depth)) {
				v = true
			}
		}
		memo[k] = v
		return v
	}
	var out []int
	var walk func(depth, id, prefix int)
	walk = func(depth, id, prefix int) {
		if !has(depth, id) {
			return
		}
		if depth == prefixLen {
			out = append(out, prefix)
			return
		}
		for d := range byte(10) {
			walk(depth+1, n.step(id, d, depth), prefix*10+int(d))
		}
	}
	walk(0, n.start(), 0)
	return out
}

func TestNANPMetadataDependsOnSixDigits(t *testing.T) {
	var found []uint64
	for _, p := range nanpPatterns(t) {
		for _, prefix := range newDigitNFA(t, p, nanpLen).prefixesDecidedLater(6) {
			if prefix < 200_000 {
				continue // the fast path never reads area codes starting with 0 or 1
			}
			t.Logf("pattern %.60q… depends on digits after %d", p, prefix)
			found = append(found, uint64(prefix))
		}
	}
	slices.Sort(found)
	found = slices.Compact(found)
	for _, p := range found {
		if !slices.Contains(nanpPrefixesNeedingFullNumber, p) {
			t.Errorf("NPA-NXX %d is decided by later digits but is not in nanpPrefixesNeedingFullNumber; want %v", p, found)
		}
	}
}

// TestDigitNFA checks the analysis itself on patterns with known answers.
func TestDigitNFA(t *testing.T) {
	tests := []struct {
		pattern string
		want    []int
	}{
		{`[2-9]\d{9}`, nil},
		{`212555\d{4}`, nil},
		{`2125550\d{3}`, []int{212555}},
		{`(?:212555[0-3]|2125561)\d{3}|212557\d{4}`, []int{212555, 212556}},
		{`(?:212)\d*`, nil},
		{`21[23]555\d{3}[0-4]`, []int{212555, 213555}},
		{`212555\d{3}`, nil}, // 9 digits: never matches, so always decided
	}
	for _, tt := range tests {
		got := newDigitNFA(t, tt.pattern, nanpLen).prefixesDecidedLater(6)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

// TestNANPZonesDependOnSixDigits checks that the library's zone map has no +1
// key longer than 1+NPA+NXX: for every NPA-NXX, adding a seventh digit never
// changes the answer.
func TestNANPZonesDependOnSixDigits(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("8 million look-ups; a data check, not a concurrency one")
	}
	var b strings.Builder
	for prefix := 200_000; prefix <= 999_999; prefix++ {
		six := strconv.Itoa(1_000_000 + prefix)
		want, _ := phonenumbers.GetTimezonesForPrefix(six)
		for d := range 10 {
			got, _ := phonenumbers.GetTimezonesForPrefix(six + strconv.Itoa(d))
			if !slices.Equal(got, want) {
				fmt.Fprintf(&b, " %d-%d", prefix, d)
				break
			}
		}
	}
	if b.Len() > 0 {
		t.Errorf("zones of these NPA-NXX depend on the seventh digit; the cache key must grow:%s", b.String())
	}
}
