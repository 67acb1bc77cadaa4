package traffic

import (
	"errors"
	"fmt"
	"io"
)

// errDepth and errLongString are the filter's limits; ReadHAR wraps them with the
// entry they occurred in.
var (
	errDepth      = errors.New("nesting too deep")
	errLongString = errors.New("string too long")
)

// bodyFilter sits between a HAR file and the JSON decoder. It drops the contents of
// every string value whose key is "text" (response.content.text, request.postData.text:
// bodies, which sessionscope never needs), so a body of any size costs no memory: the
// decoder sees "". It also bounds every other string and the nesting depth, so no
// single token can make the decoder buffer more than maxString bytes.
//
// It tracks just enough JSON structure for that (strings, escapes, containers, keys);
// malformed input passes through for the decoder to reject.
type bodyFilter struct {
	src       io.Reader
	maxString int
	maxDepth  int

	stack     []byte // open containers, '{' or '['
	expectKey bool   // the next string in the current object is a key
	inString  bool
	escape    bool
	isKey     bool
	drop      bool
	strLen    int
	key       [8]byte // the current or last key, when short
	keyLen    int     // -1: longer than key, or escaped
	lastText  bool    // the last key was "text" and its value is next
	// space is set after a whitespace byte outside strings: further ones are dropped.
	// encoding/json rescans a long run of insignificant whitespace on every refill,
	// which made a pretty-printed HAR read from a pipe quadratic; one byte still
	// separates tokens, so malformed input stays malformed.
	space bool

	dropped int64 // body bytes dropped
	err     error // sticky
}

func newBodyFilter(r io.Reader, maxString, maxDepth int) *bodyFilter {
	return &bodyFilter{src: r, maxString: maxString, maxDepth: maxDepth}
}

func (f *bodyFilter) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	for {
		n, err := f.src.Read(p)
		w, ferr := f.filter(p[:n])
		if ferr != nil {
			f.err = ferr
			return w, ferr
		}
		if err != nil {
			f.err = err
		}
		if w > 0 || err != nil {
			return w, err
		}
	}
}

// filter compacts b in place and returns the length kept.
func (f *bodyFilter) filter(b []byte) (int, error) {
	w := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if f.inString {
			if f.drop && !f.escape {
				// Skip fast to the next quote or backslash.
				j := i
				for j < len(b) && b[j] != '"' && b[j] != '\\' {
					j++
				}
				f.dropped += int64(j - i)
				if j == len(b) {
					return w, nil
				}
				i, c = j, b[j]
			}
			switch {
			case f.escape:
				f.escape = false
				if f.isKey {
					f.keyLen = -1
				}
			case c == '\\':
				f.escape = true
			case c == '"':
				f.inString = false
				if f.isKey {
					f.lastText = f.keyLen == 4 && string(f.key[:4]) == "text"
				}
				b[w] = c
				w++
				continue
			}
			if f.drop {
				f.dropped++
				continue
			}
			f.strLen++
			if f.strLen > f.maxString {
				return w, fmt.Errorf("%w: more than %d bytes", errLongString, f.maxString)
			}
			if f.isKey && f.keyLen >= 0 {
				if f.keyLen < len(f.key) {
					f.key[f.keyLen] = c
					f.keyLen++
				} else {
					f.keyLen = -1
				}
			}
			b[w] = c
			w++
			continue
		}
		switch c {
		case '"':
			f.inString, f.escape, f.strLen = true, false, 0
			inObject := len(f.stack) > 0 && f.stack[len(f.stack)-1] == '{'
			f.isKey = inObject && f.expectKey
			f.drop = !f.isKey && inObject && f.lastText
			if f.isKey {
				f.keyLen = 0
			}
			f.lastText = false
		case '{', '[':
			if len(f.stack) >= f.maxDepth {
				return w, fmt.Errorf("%w: more than %d levels", errDepth, f.maxDepth)
			}
			f.stack = append(f.stack, c)
			f.expectKey, f.lastText = c == '{', false
		case '}', ']':
			if len(f.stack) > 0 {
				f.stack = f.stack[:len(f.stack)-1]
			}
			f.expectKey, f.lastText = false, false
		case ',':
			f.expectKey = len(f.stack) > 0 && f.stack[len(f.stack)-1] == '{'
			f.lastText = false
		case ':':
			f.expectKey = false
		case ' ', '\t', '\r', '\n':
			if f.space {
				continue
			}
			f.space = true
			b[w] = c
			w++
			continue
		default:
			f.lastText = false
		}
		f.space = false
		b[w] = c
		w++
	}
	return w, nil
}
