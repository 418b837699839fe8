// Package optout reads the intent of an inbound text message: does the sender
// ask to stop receiving messages, to start again, or neither? It is pure (no
// I/O, no state) and imports nothing of ours.
//
// # Policy
//
// A reply that plausibly asks to stop is a Stop: the law (TCPA 47 CFR
// 64.1200(a)(10), in force April 2025, "any reasonable means"; CTIA guidelines;
// China's MIIT rules on commercial messages) puts the burden on the sender, so
// when in doubt about a message that is about the messages, stop. A keyword
// used for something else must not opt anyone out, and is not guessed either:
//
//   - Stop: the whole message is an opt-out keyword (STOP, STOPALL,
//     UNSUBSCRIBE, END, QUIT, CANCEL, REVOKE, OPTOUT, "opt out", 退订, TD, T,
//     取消, 不要再发, 退订TD …) in any case, width or punctuation, possibly
//     repeated, with courtesy words around it ("Stop. Thank you", "STOP
//     please", "pls stop!!!"); or the message contains an unambiguous request
//     about the messages ("please stop texting me", "remove me from your
//     list", "take me off", "do not text", "unsubscribe me", "wrong number",
//     "不要再给我发短信").
//   - Start: the whole message is START, UNSTOP or YES (with courtesy words),
//     and no stop wording appears anywhere.
//   - Ambiguous: a keyword appears but its sense is not clearly "stop the
//     messages": negated ("don't stop"), used about something else ("stop by
//     the office tomorrow?", "when does it stop", "cancel my appointment"), or
//     stop and start wording together. The caller records it for a person to
//     review; it is never acted on automatically.
//   - None: no keyword at all ("what time do you open?").
package optout

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Intent is what a message asks for.
type Intent uint8

// Intents.
const (
	None      Intent = iota // nothing about the messages
	Stop                    // an opt-out request
	Start                   // a re-opt-in request
	Ambiguous               // a keyword whose sense is unclear: review it
)

var intentNames = [...]string{None: "none", Stop: "stop", Start: "start", Ambiguous: "ambiguous"}

func (i Intent) String() string {
	if int(i) < len(intentNames) {
		return intentNames[i]
	}
	return "unknown"
}

// ParseIntent returns the intent named s ("stop", "start", "ambiguous", "none").
func ParseIntent(s string) (Intent, bool) {
	for i, n := range intentNames {
		if strings.EqualFold(s, n) {
			return Intent(i), true
		}
	}
	return None, false
}

// maxText bounds the work on one message: an SMS is at most 1600 characters
// after concatenation (Twilio); longer input is read up to this many bytes.
const maxText = 4096

// stopWords are the keywords that, alone, mean stop (Twilio's and CTIA's
// standard opt-out keywords, and common variants).
var stopWords = map[string]bool{
	"stop": true, "stopall": true, "unsubscribe": true, "end": true, "quit": true,
	"cancel": true, "revoke": true, "optout": true, "unsub": true, "unsuscribe": true,
	"unsubscribed": true, "remove": true, "stahp": true, "stopp": true, "stp": true,
	"td": true, "t": true,
}

// startWords are the keywords that, alone, mean start again (Twilio's).
var startWords = map[string]bool{"start": true, "unstop": true, "yes": true, "subscribe": true, "resubscribe": true}

// courtesy words may surround a keyword without changing its sense.
var courtesy = map[string]bool{
	"please": true, "pls": true, "plz": true, "plse": true, "thanks": true, "thank": true, "you": true,
	"thx": true, "ty": true, "now": true, "just": true, "ok": true, "okay": true, "all": true,
	"it": true, "me": true, "sir": true, "maam": true, "asap": true, "immediately": true,
	"right": true, "away": true, "already": true, "again": true, "kindly": true, "hi": true,
	"hello": true, "hey": true, "no": true, "thankyou": true, "u": true, "reply": true,
	"texting": true, "texts": true, "text": true, "messages": true, "messaging": true,
	"sending": true, "contacting": true, "calling": true, "this": true, "these": true,
	"number": true, "the": true, "a": true, "to": true, "of": true, "for": true,
	"god": true, "damn": true, "fucking": true, "f": true, "seriously": true, "really": true,
	"and": true, "sms": true, "msgs": true, "msg": true, "list": true, "subscription": true,
	"from": true, "your": true, "us": true, "my": true, "in": true, "out": true,
	"good": true, "bye": true, "goodbye": true, "regards": true, "cheers": true,
	"sorry": true, "interested": true, "y": true, "yeah": true, "but": true,
}

// stopPhrases anywhere in a message mean stop: they are about the messages.
var stopPhrases = []string{
	"opt out", "opt me out", "opting out", "unsubscribe", "unsub me",
	"stop texting", "stop txting", "stop text", "stop messaging", "stop sending", "stop contacting",
	"stop calling", "stop these", "stop this", "stop the text", "stop the messages", "stop all",
	"stop spamming", "stop bothering", "stop harassing", "stop msg",
	"remove me", "remove my number", "remove this number", "take me off", "take my number off",
	"delete my number", "delete me", "do not text", "dont text", "don t text", "do not txt",
	"do not message", "do not contact", "dont contact", "don t contact", "do not call", "dont call",
	"don t call", "do not send", "dont send", "don t send", "never text", "never contact",
	"no more text", "no more messages", "no more msgs", "no more sms", "no more calls",
	"no more contact", "leave me alone", "wrong number", "not interested", "lose my number",
	"quit texting", "quit messaging", "quit sending", "quit calling", "end texts",
	"cancel texts", "cancel messages", "cancel my subscription", "cancel subscription",
	"revoke consent", "revoke my consent", "withdraw consent", "withdraw my consent",
	"i revoke", "off your list", "off the list", "off this list",
}

// zhStop are Chinese opt-out forms: any of them anywhere means stop.
var zhStop = []string{
	"退订", "不要再发", "别再发", "不要发", "别发了", "别发", "拒收", "勿发", "不要再给我发",
	"别再给我发", "取消订阅", "取消短信", "取消推送", "不再接收", "停止发送", "不要打扰", "别打扰",
}

// zhStopWhole are Chinese forms that mean stop when they are the whole message.
var zhStopWhole = map[string]bool{"取消": true, "停止": true, "不要": true, "退": true}

// negations before a keyword turn it into something else.
var negations = map[string]bool{
	"dont": true, "don": true, "not": true, "never": true, "cant": true, "can": false,
	"won": true, "wont": true, "didn": true, "didnt": true, "doesn": true, "doesnt": true,
	"shouldn": true, "t": false,
}

// Classify returns the intent of an inbound message text. It never fails: text
// that is empty, not UTF-8 or anything else is None, Ambiguous, Stop or Start
// by the package's policy.
func Classify(text string) Intent {
	if len(text) > maxText {
		text = text[:maxText]
	}
	norm := normalize(text)
	var words []string
	for _, s := range norm.sentences {
		words = append(words, s...)
	}
	if norm.han != "" {
		for _, p := range zhStop {
			if strings.Contains(norm.han, p) {
				return Stop
			}
		}
		switch {
		case zhStopWhole[norm.han] && allCourtesy(words):
			return Stop
		case len(words) == 1 && (words[0] == "td" || words[0] == "t"):
			return Stop // "好的TD", "TD谢谢"
		case strings.Contains(norm.han, "取消") || strings.Contains(norm.han, "停止"):
			return Ambiguous // 取消预约, 停止营业: about something else
		case len(words) == 0:
			return None
		}
	}
	if len(words) == 0 {
		return None
	}
	line := " " + strings.Join(words, " ") + " "

	hasStop, hasStart, negated := false, false, false
	for i, w := range words {
		if stopWords[w] && w != "t" && w != "td" || w == "opt" && i+1 < len(words) && words[i+1] == "out" {
			// "t" and "td" count only alone: "t" is everywhere ("don t").
			hasStop = true
			if i > 0 && negations[words[i-1]] || i > 1 && words[i-1] == "t" && negations[words[i-2]] {
				negated = true
			}
		}
		if startWords[w] && w != "yes" {
			hasStart = true
		}
	}

	// A sentence made only of keywords and courtesy words.
	wholeStop, wholeStart := false, false
	for _, s := range norm.sentences {
		switch whole(s) {
		case Stop:
			wholeStop = true
		case Start:
			wholeStart = true
		case Ambiguous:
			return Ambiguous
		}
	}
	switch {
	case wholeStop && (wholeStart || hasStart || negated):
		return Ambiguous
	case wholeStop:
		return Stop
	case wholeStart && !hasStop && len(norm.sentences) == 1:
		return Start
	case wholeStart:
		return Ambiguous
	case negated:
		return Ambiguous
	}
	for _, p := range stopPhrases {
		if strings.Contains(line, " "+p+" ") || isPrefixPhrase(p) && strings.Contains(line, " "+p) {
			if hasStart {
				return Ambiguous
			}
			return Stop
		}
	}
	if hasStop || hasStart {
		return Ambiguous
	}
	return None
}

// isPrefixPhrase says whether p may be followed by more letters of the same
// word ("stop text" → "stop texting", "unsubscribe" → "unsubscribed").
func isPrefixPhrase(p string) bool {
	return strings.HasSuffix(p, "text") || strings.HasSuffix(p, "txt")
}

func allCourtesy(words []string) bool {
	for _, w := range words {
		if !courtesy[w] {
			return false
		}
	}
	return true
}

// joinSpelled joins a sentence spelled out letter by letter ("S T O P").
func joinSpelled(s []string) []string {
	if len(s) < 3 {
		return s
	}
	for _, w := range s {
		if len(w) != 1 {
			return s
		}
	}
	return []string{strings.Join(s, "")}
}

// whole reads a sentence made only of keywords and courtesy words: Stop if it
// has a stop keyword, Start if it has a start keyword (a lone "yes" with
// courtesy words is an answer to something, not a re-opt-in: Ambiguous), both
// Ambiguous; None if the sentence holds any other word.
func whole(words []string) Intent {
	stop, start, yes := false, false, false
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case stopWords[w]:
			stop = true
		case w == "opt" && i+1 < len(words) && words[i+1] == "out":
			stop = true
			i++
		case w == "yes":
			yes = true
		case startWords[w]:
			start = true
		case courtesy[w]:
		default:
			return None
		}
	}
	switch {
	case stop && start:
		return Ambiguous
	case stop:
		return Stop // a "yes" beside a stop ("yes, stop") does not undo it
	case start:
		return Start
	case yes && len(words) == 1:
		return Start
	case yes:
		return Ambiguous
	}
	return None
}

type normalized struct {
	// sentences are the lower-case Latin words and digit runs, split where
	// sentence punctuation (. ! ? , ; : and new lines, any width) separates them.
	sentences [][]string
	han       string // the CJK characters, in order, without punctuation
}

// normalize folds width (full-width ASCII, the ideographic space) and case,
// drops apostrophes inside words ("don't" → "dont"), splits Latin text into
// words at anything that is not a letter or digit and into sentences at
// sentence punctuation, and collects CJK ideographs.
func normalize(s string) normalized {
	var out normalized
	var han, word strings.Builder
	var sentence []string
	flush := func() {
		if word.Len() > 0 {
			sentence = append(sentence, word.String())
			word.Reset()
		}
	}
	end := func() {
		flush()
		if len(sentence) > 0 {
			out.sentences = append(out.sentences, joinSpelled(sentence))
			sentence = nil
		}
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		r = fold(r)
		switch {
		case r == '\'' || r == '’' || r == '‘' || r == '`':
			continue // inside a word it joins ("don't")
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9'):
			word.WriteRune(r)
		case strings.ContainsRune(".!?,;:\n\r。！？，；：、…", r):
			end()
		case unicode.Is(unicode.Han, r):
			flush()
			han.WriteRune(r)
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			word.WriteString(strings.ToLower(string(r)))
		default:
			flush()
		}
	}
	end()
	out.han = han.String()
	return out
}

// fold maps full-width ASCII (U+FF01–U+FF5E) and the ideographic space to
// ASCII, and upper-case ASCII to lower case.
func fold(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		r -= 0xFF01 - 0x21
	case r == 0x3000:
		r = ' '
	}
	if r >= 'A' && r <= 'Z' {
		r += 'a' - 'A'
	}
	return r
}
