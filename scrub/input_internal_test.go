package scrub

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestNumberSeparators: the table severalNumbers screens cells with finds a
// separator exactly when strings.ContainsAny does, on ASCII and multi-byte
// text alike.
func TestNumberSeparators(t *testing.T) {
	pieces := []string{"2", "12", " ", "-", "(", "/", ",", ";", "|", "&", "\n", "a", "０", "／", "、", "é", "\xff", "\x2f\x80"}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 50_000; i++ {
		var b strings.Builder
		for n := rng.IntN(8); n > 0; n-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		cell := b.String()
		found := false
		for j := 0; j < len(cell); j++ {
			found = found || numberSeparators[cell[j]]
		}
		if want := strings.ContainsAny(cell, "/,;|&\n"); found != want {
			t.Fatalf("%q: table says %v, ContainsAny %v", cell, found, want)
		}
	}
}
