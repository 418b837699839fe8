package main

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"callfilter/listfeed"
)

// TestGenDNC: gen --format dnc writes a DNC full file that listfeed reads
// whole, every number once, in ascending order (as the registry's files are,
// which the import's block writes rely on for speed).
func TestGenDNC(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := genCmd([]string{"--format", "dnc", "--rows", "20000", "--seed", "3"}, &out, &errOut); err != nil {
		t.Fatalf("gen: %v\n%s", err, errOut.String())
	}
	r := listfeed.NewDNC(bytes.NewReader(out.Bytes()), listfeed.Config{})
	var n int
	var last uint64
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if rec.Key <= last {
			t.Fatalf("line %d: %d after %d: not ascending and unique", n+1, rec.Key, last)
		}
		last = rec.Key
		n++
	}
	if n != 20000 {
		t.Errorf("%d numbers, want 20000", n)
	}
	if err := genCmd([]string{"--format", "csv", "--rows", "1"}, io.Discard, io.Discard); err == nil {
		t.Error("an unknown format was accepted")
	}
}
