package codec

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors callers can test with errors.Is. An error about the bytes
// wraps one of ErrSyntax, ErrTruncated, ErrTooDeep or ErrTooLarge (a declared
// length running past the end of the input wraps both ErrTooLarge and
// ErrTruncated, because from the bytes alone a cut payload and a lying length
// look the same); asking Decode for a format it cannot decode is
// ErrUnsupported.
var (
	// ErrSyntax reports bytes that do not follow the format's grammar.
	ErrSyntax = errors.New("malformed payload")
	// ErrTruncated reports input that ends inside a value, as a payload cut by
	// a read size cap does.
	ErrTruncated = errors.New("payload truncated")
	// ErrTooDeep reports containers nested deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("payload nested too deeply")
	// ErrTooLarge reports a declared length or count larger than the rest of
	// the input could hold, or more values than Limits.MaxNodes.
	ErrTooLarge = errors.New("payload too large")
	// ErrUnsupported reports a Format that Decode cannot decode from a byte
	// slice (FormatSpringHash, which needs DecodeSpringHash) or does not know.
	ErrUnsupported = errors.New("unsupported format")
)

// errNodeLimit is wrapped by errors that exceed Limits.MaxNodes, so auto
// detection can tell "recognised but over the limits" from "not this format".
var errNodeLimit = fmt.Errorf("more values than Limits.MaxNodes: %w", ErrTooLarge)

// isLimitError reports errors that mean the format was recognised but the
// payload exceeds the Limits: auto detection reports those instead of falling
// back to opaque, so a user learns why a payload was not shown.
func isLimitError(err error) bool {
	return errors.Is(err, ErrTooDeep) || errors.Is(err, errNodeLimit)
}

// errLength reports a declared length or count that the remaining input
// cannot hold.
func errLength(off int, what string, n uint64, remaining int) error {
	return fmt.Errorf("offset %d: %s %d exceeds the %d bytes left: %w (%w)", off, what, n, remaining, ErrTooLarge, ErrTruncated)
}

// errAt wraps a sentinel with the offset where the decoder gave up.
func errAt(off int, sentinel error, msg string) error {
	return fmt.Errorf("offset %d: %s: %w", off, msg, sentinel)
}

// errTooDeep is returned when entering a container deeper than MaxDepth.
func errTooDeep(off, max int) error {
	return fmt.Errorf("offset %d: more than %d nested containers: %w", off, max, ErrTooDeep)
}

// quoteName quotes a field name for an error message, cut to 64 bytes: names
// come from the payload and a hostile one could be the whole payload.
func quoteName(name string) string {
	if len(name) > 64 {
		return strconv.Quote(truncUTF8(name, 64)) + "…"
	}
	return strconv.Quote(name)
}
