package listfeed

import (
	"path/filepath"
	"time"
)

// DateFromName returns the date in a file's name, written YYYYMMDD,
// YYYY-MM-DD or YYYY_MM_DD with a year from 2000 to 2099 and not part of a
// longer run of digits ("dnc_201_20261130.txt", "tps-2026-11-30.csv"); the
// last one if several. Publishers date their downloads in the name, not in
// the file.
func DateFromName(name string) (time.Time, bool) {
	base := filepath.Base(name)
	var found time.Time
	ok := false
	for i := 0; i < len(base); i++ {
		if i > 0 && isDigit(base[i-1]) {
			continue
		}
		for _, layout := range []string{"20060102", "2006-01-02", "2006_01_02"} {
			end := i + len(layout)
			if end > len(base) || base[i] != '2' || base[i+1] != '0' || (end < len(base) && isDigit(base[end])) {
				continue
			}
			if t, err := time.Parse(layout, base[i:end]); err == nil {
				found, ok = t, true
			}
		}
	}
	return found, ok
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
