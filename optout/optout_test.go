package optout_test

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"callfilter/optout"
)

type phrase struct {
	line int
	text string
	want optout.Intent
}

// loadPhrases reads testdata/phrases.tsv: text<TAB>expected, with \n, \r, \t
// and \\ escapes; lines starting with # are comments.
func loadPhrases(tb testing.TB) []phrase {
	tb.Helper()
	f, err := os.Open("testdata/phrases.tsv")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []phrase
	sc := bufio.NewScanner(f)
	unescape := strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\r`, "\r", `\t`, "\t")
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		text, label, ok := strings.Cut(line, "\t")
		if !ok {
			tb.Fatalf("phrases.tsv:%d: no tab", n)
		}
		want, ok := optout.ParseIntent(label)
		if !ok {
			tb.Fatalf("phrases.tsv:%d: unknown intent %q", n, label)
		}
		out = append(out, phrase{line: n, text: unescape.Replace(text), want: want})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestClassifyPhrases(t *testing.T) {
	phrases := loadPhrases(t)
	if len(phrases) < 300 {
		t.Fatalf("phrases.tsv has %d phrases, want a few hundred", len(phrases))
	}
	counts := map[optout.Intent]int{}
	for _, p := range phrases {
		counts[p.want]++
		if got := optout.Classify(p.text); got != p.want {
			t.Errorf("phrases.tsv:%d: Classify(%q) = %v, want %v", p.line, p.text, got, p.want)
		}
	}
	t.Logf("%d phrases: %v", len(phrases), counts)
}

// TestClassifyRuleText: the keywords the issue and the law name, each alone.
func TestClassifyRuleText(t *testing.T) {
	for _, k := range []string{"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "REVOKE", "OPTOUT", "opt out", "退订", "TD", "T", "取消", "不要再发", "退订TD"} {
		for _, v := range []string{k, strings.ToLower(k), k + "!!!", " " + k + ". Thank you", "please " + k} {
			if got := optout.Classify(v); got != optout.Stop {
				t.Errorf("Classify(%q) = %v, want stop", v, got)
			}
		}
	}
	for _, k := range []string{"START", "UNSTOP", "YES", "start", "Unstop"} {
		if got := optout.Classify(k); got != optout.Start {
			t.Errorf("Classify(%q) = %v, want start", k, got)
		}
	}
	for _, s := range []string{"don't stop", "stop by the office tomorrow?", "when does it stop"} {
		if got := optout.Classify(s); got != optout.Ambiguous {
			t.Errorf("Classify(%q) = %v, want ambiguous", s, got)
		}
	}
}

func TestIntentNames(t *testing.T) {
	for _, i := range []optout.Intent{optout.None, optout.Stop, optout.Start, optout.Ambiguous} {
		got, ok := optout.ParseIntent(i.String())
		if !ok || got != i {
			t.Errorf("ParseIntent(%q) = %v, %v; want %v", i.String(), got, ok, i)
		}
	}
}

// FuzzClassify: any input is classified without panicking, quickly, and the
// answer does not depend on case, width or surrounding spaces.
func FuzzClassify(f *testing.F) {
	for _, p := range loadPhrases(f) {
		f.Add(p.text)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := optout.Classify(s)
		if got > optout.Ambiguous {
			t.Fatalf("Classify(%q) = %d, not an intent", s, got)
		}
		if !utf8.ValidString(s) {
			return
		}
		if u := optout.Classify("  " + s + "  "); u != got {
			t.Errorf("Classify(%q) = %v but with spaces around %v", s, got, u)
		}
		if isASCII(s) {
			if u := optout.Classify(strings.ToUpper(s)); u != got {
				t.Errorf("Classify(%q) = %v but upper-cased %v", s, got, u)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
