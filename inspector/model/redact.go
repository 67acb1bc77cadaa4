package model

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// sensitiveNames are the built-in names whose values sessionscope hides (payload fields,
// URL query parameters, search), normalised: compared after dropping case, '_', '-',
// '.', spaces and camelCase, so apiKey, api_key and API-KEY are one name. A name of four
// or more letters matches anywhere in a field name (so every name ending in token or
// secret); a shorter one only as a whole word (pin matches pin_code, not shipping).
var sensitiveNames = [...]string{
	"password", "passwd", "pwd", "passphrase", "secret", "token", "csrf", "xsrf",
	"apikey", "privatekey", "sessionkey", "authorization", "credential", "jwt", "otp",
	"pin", "pincode", "cvv", "cvc", "card", "iban", "ssn",
}

// sensitiveWords match only as a whole word, whatever their length: a password reset
// link's reset=… is a secret, a preset is not; a totp seed is, a hotpot is not; an
// auth value is, while Spring's authentication (the login, with its principal's name)
// and authorities are not: their secrets sit under names of their own (credentials,
// password).
var sensitiveWords = [...]string{"reset", "totp", "hotp", "auth"}

// SensitiveNames returns the built-in names, normalised (those of sensitiveWords last).
func SensitiveNames() []string {
	return append(append([]string(nil), sensitiveNames[:]...), sensitiveWords[:]...)
}

// Redacted is what a hidden value is shown as.
const Redacted = "•••"

// Redaction decides by name which values are secret. The zero value uses
// the built-in list; NewRedaction adds the user's --redact names.
type Redaction struct {
	extra []string // normalised
}

// NewRedaction returns the built-in list plus extra names (--redact NAME).
func NewRedaction(extra []string) Redaction {
	var r Redaction
	for _, n := range extra {
		if k := normalName(n); k != "" {
			r.extra = append(r.extra, k)
		}
	}
	return r
}

// Sensitive reports whether a field or parameter name names a secret value.
func (r Redaction) Sensitive(name string) bool {
	words := nameWords(name)
	if len(words) == 0 {
		return false
	}
	joined := strings.Join(words, "")
	for _, n := range sensitiveNames {
		if termMatches(n, joined, words) {
			return true
		}
	}
	for _, n := range sensitiveWords {
		if slices.Contains(words, n) {
			return true
		}
	}
	for _, n := range r.extra {
		if termMatches(n, joined, words) {
			return true
		}
	}
	return false
}

// SensitiveName is Sensitive with the built-in list only.
func SensitiveName(name string) bool { return Redaction{}.Sensitive(name) }

func termMatches(term, joined string, words []string) bool {
	if len(term) >= 4 {
		return strings.Contains(joined, term)
	}
	if joined == term {
		return true
	}
	for _, w := range words {
		if w == term {
			return true
		}
	}
	return false
}

// normalName lower-cases a name and drops everything but letters and digits.
func normalName(s string) string {
	return strings.Join(nameWords(s), "")
}

// nameWords splits a name into lower-case words at separators (anything but a letter
// or a digit) and camelCase boundaries: "userAPIKey" is user, api, key.
func nameWords(s string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for i, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			continue
		}
		if unicode.IsUpper(r) && len(cur) > 0 {
			prev := cur[len(cur)-1]
			next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):])
			// aB starts a word; in ABc the B starts one (APIKey: API, Key).
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && unicode.IsLower(next)) {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return words
}
