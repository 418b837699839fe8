package embedded

import (
	"path/filepath"
	"testing"
)

// MustOpenTemp opens an empty store in a new temporary directory of tb with
// default options, and closes it when the test ends. It is for the tests of
// packages that need a real store (wrap it in store.Faulty to make it fail).
func MustOpenTemp(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(filepath.Join(tb.TempDir(), "callfilter.db"), Options{})
	if err != nil {
		tb.Fatalf("open temporary store: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}
