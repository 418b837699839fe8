package filter

import (
	"time"

	"callfilter/phone"
)

// STUB — the filter helper replaces this file. The exported names below are the
// contract other packages compile against; keep them.

// RuleSet is a validated, immutable, versioned rule set. Safe for concurrent use.
type RuleSet struct {
	Version string
}

// Policy is the effective rules for one purpose, channel and called party, with
// region overrides applied.
type Policy struct {
	Purpose string
	Channel Channel
	// Lists are the do-not-contact lists that apply, in rule order.
	Lists []string
	// Caps are the frequency caps on reserved attempts.
	Caps []Cap
}

// LongestCapWindow returns the longest window among p.Caps, 0 when there are none.
func (p *Policy) LongestCapWindow() time.Duration { return 0 }

// ParseRules parses and validates a YAML (or JSON) rule set.
func ParseRules(data []byte) (*RuleSet, error) { return nil, nil }

// LoadRules reads and parses the rule set in the file at path.
func LoadRules(path string) (*RuleSet, error) { return nil, nil }

// Resolve returns the effective policy for purpose, channel and number, or an
// EInvalid error with code unknown_purpose or unknown_channel.
func (rs *RuleSet) Resolve(purpose string, ch Channel, n phone.Number) (*Policy, error) {
	return nil, nil
}

// Decide decides req at instant now under rs from facts. Pure.
func Decide(rs *RuleSet, req Request, facts Facts, now time.Time) Decision { return Decision{} }
