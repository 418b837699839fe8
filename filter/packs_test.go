package filter_test

import (
	"testing"

	"callfilter/filter"
)

// TestShippedPacks: every rules pack loads and validates.
func TestShippedPacks(t *testing.T) {
	for _, p := range []string{"../rules/us-states.yaml", "../rules/china.yaml", "../rules/uk.yaml", "../rules.yaml"} {
		rs, err := filter.LoadRules(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		t.Logf("%s: version %s, lists %v, max ages %v", p, rs.Version, rs.ListNames(), rs.MaxListAges())
	}
}
