package codec

import (
	"errors"
	"testing"
)

// FuzzDjangoSigned: the Django layer (shape check, base64, zlib) and the
// JSON and pickle decoders under it never panic, return a payload or an error
// wrapping a sentinel, and stay within the limits on any input.
func FuzzDjangoSigned(f *testing.F) {
	addSeeds(f, append(djangoSeeds,
		"", ":", "::", "a:b:c", ".:b:c", ".eJw:1:A", "e30:1:A", "bnVsbA:1:A", "WzFd:1:A",
		"gAWVAgAAAAAAAAB9lC4:1:A", "KGRwMAou:1:A",
	), "json", "pickle")
	f.Fuzz(func(t *testing.T, data []byte) {
		shaped := isDjangoSigned(data)
		p, err := decodeDjangoSigned(data, newBudget(fuzzLimits))
		if err != nil {
			if p != nil {
				t.Fatalf("payload returned with error %v", err)
			}
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrTooDeep) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if !shaped {
			t.Fatal("decoded input that isDjangoSigned rejects")
		}
		if p.Format != FormatDjangoSigned {
			t.Fatalf("Format = %s", p.Format)
		}
		checkPayload(t, p, len(data))
	})
}
