package redisstore

import (
	"bytes"
	"errors"
	"fmt"
)

// This file reads the frames a subscribed connection receives, straight from the
// bytes read off the socket. go-redis' PubSub builds a *redis.Message per
// notification, with its channel, pattern and payload copied into strings, and hands
// it over through its own reader: at a few hundred thousand notifications a second
// that was most of sessionscope's CPU. Here a frame is parsed in place and its fields
// alias the read buffer until the next frame is read. The bytes come from the watched
// server and are treated as untrusted: every length is bounded, nesting is bounded,
// and a malformed frame is an error, never a panic.

// Limits on what one frame may hold.
const (
	// maxBulk bounds one bulk string: a key name, a channel. Redis allows keys of up to
	// 512 MB, but no session store names its keys with more than a few hundred bytes.
	maxBulk = 1 << 20
	// maxLine bounds a simple string or an error line.
	maxLine = 64 << 10
	// maxDepth bounds the nesting of aggregates skipped in a frame sessionscope does
	// not use (a subscription only receives flat arrays).
	maxDepth = 8
	// maxElems bounds the elements of one aggregate.
	maxElems = 1 << 16
	// maxFrame bounds the bytes one frame may span, and so the read buffer.
	maxFrame = 4 << 20
)

// errIncomplete says the buffer ends inside a frame: read more and parse again.
var errIncomplete = errors.New("resp: incomplete frame")

// errProtocol wraps every malformed-frame error.
var errProtocol = errors.New("resp: protocol error")

// frameKind is what a frame on a subscribed connection is.
type frameKind uint8

const (
	frameOther      frameKind = iota // anything sessionscope does not use (a push of another kind, an integer)
	frameMessage                     // message or pmessage: a notification
	frameSubscribed                  // subscribe or psubscribe confirmation
	frameUnsubscribed
	framePong  // the answer to a health-check PING
	frameError // an error reply; Text holds it
)

// frame is one parsed frame. Channel, Payload and Text alias the parsed buffer.
type frame struct {
	Kind    frameKind
	Channel []byte
	Payload []byte
	Text    []byte // an error reply's text
}

// parseFrame parses the frame at the start of b and returns it with its length. It
// returns errIncomplete when b ends inside the frame, and an error wrapping
// errProtocol when the bytes are not RESP or break a limit.
func parseFrame(b []byte) (frame, int, error) {
	var f frame
	c := cursor{b: b}
	if len(b) == 0 {
		return f, 0, errIncomplete
	}
	switch b[0] {
	case '*', '>': // RESP2 array, RESP3 push: what a subscribed connection receives
		c.p = 1
		n, err := c.int()
		if err != nil {
			return f, 0, err
		}
		if n < 0 || n > maxElems {
			if n == -1 { // a null array
				return f, c.p, nil
			}
			return f, 0, fmt.Errorf("%w: aggregate of %d elements", errProtocol, n)
		}
		if n == 0 {
			return f, c.p, nil
		}
		name, ok, err := c.str()
		if err != nil {
			return f, 0, err
		}
		rest := n - 1
		if ok {
			switch {
			case n == 4 && string(name) == "pmessage":
				if _, _, err := c.str(); err != nil { // the pattern
					return f, 0, err
				}
				f.Kind = frameMessage
				if f.Channel, f.Payload, err = c.pair(); err != nil {
					return f, 0, err
				}
				return f, c.p, nil
			case n == 3 && string(name) == "message":
				f.Kind = frameMessage
				if f.Channel, f.Payload, err = c.pair(); err != nil {
					return f, 0, err
				}
				return f, c.p, nil
			case string(name) == "psubscribe" || string(name) == "subscribe":
				f.Kind = frameSubscribed
			case string(name) == "punsubscribe" || string(name) == "unsubscribe":
				f.Kind = frameUnsubscribed
			case string(name) == "pong":
				f.Kind = framePong
			}
		}
		for range rest {
			if err := c.skip(1); err != nil {
				return frame{}, 0, err
			}
		}
		return f, c.p, nil
	case '+':
		c.p = 1
		line, err := c.line(maxLine)
		if err != nil {
			return f, 0, err
		}
		if string(line) == "PONG" {
			f.Kind = framePong
		}
		return f, c.p, nil
	case '-': // an error line
		c.p = 1
		line, err := c.line(maxLine)
		if err != nil {
			return f, 0, err
		}
		f.Kind, f.Text = frameError, line
		return f, c.p, nil
	case '!': // a RESP3 blob error
		c.p = 1
		text, err := c.blob()
		if err != nil {
			return f, 0, err
		}
		f.Kind, f.Text = frameError, text
		return f, c.p, nil
	}
	if err := c.skip(0); err != nil {
		return f, 0, err
	}
	return f, c.p, nil
}

// cursor walks a buffer; p is the next byte to read.
type cursor struct {
	b []byte
	p int
}

// line returns the bytes up to the next CRLF and moves past it.
func (c *cursor) line(limit int) ([]byte, error) {
	rest := c.b[c.p:]
	if len(rest) > limit+2 {
		rest = rest[:limit+2]
	}
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		if len(rest) == limit+2 {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errProtocol, limit)
		}
		return nil, errIncomplete
	}
	if i == 0 || rest[i-1] != '\r' {
		return nil, fmt.Errorf("%w: line not ended by CRLF", errProtocol)
	}
	c.p += i + 1
	return rest[:i-1], nil
}

// int reads a decimal line: a length or a count.
func (c *cursor) int() (int, error) {
	line, err := c.line(20)
	if err != nil {
		return 0, err
	}
	neg := len(line) > 0 && line[0] == '-'
	digits := line
	if neg {
		digits = line[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return 0, fmt.Errorf("%w: bad length %q", errProtocol, line)
	}
	n := 0
	for _, d := range digits {
		if d < '0' || d > '9' {
			return 0, fmt.Errorf("%w: bad length %q", errProtocol, line)
		}
		n = n*10 + int(d-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

// blob reads the length line and body of a bulk string whose type byte was read.
func (c *cursor) blob() ([]byte, error) {
	n, err := c.int()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > maxBulk {
		if n == -1 {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: bulk string of %d bytes", errProtocol, n)
	}
	if len(c.b)-c.p < n+2 {
		return nil, errIncomplete
	}
	body := c.b[c.p : c.p+n]
	if c.b[c.p+n] != '\r' || c.b[c.p+n+1] != '\n' {
		return nil, fmt.Errorf("%w: bulk string not ended by CRLF", errProtocol)
	}
	c.p += n + 2
	return body, nil
}

// str reads a bulk or simple string. ok is false (and the element skipped) when the
// element is of another type.
func (c *cursor) str() (s []byte, ok bool, err error) {
	if c.p >= len(c.b) {
		return nil, false, errIncomplete
	}
	switch c.b[c.p] {
	case '$':
		c.p++
		s, err = c.blob()
		return s, err == nil, err
	case '+':
		c.p++
		s, err = c.line(maxLine)
		return s, err == nil, err
	}
	return nil, false, c.skip(1)
}

// pair reads a notification's channel and payload, which must be strings.
func (c *cursor) pair() (channel, payload []byte, err error) {
	channel, ok, err := c.str()
	if err != nil {
		return nil, nil, err
	}
	payload, ok2, err := c.str()
	if err != nil {
		return nil, nil, err
	}
	if !ok || !ok2 {
		return nil, nil, fmt.Errorf("%w: a message whose channel or payload is not a string", errProtocol)
	}
	return channel, payload, nil
}

// skip moves past one value of any RESP2 or RESP3 type, nested at most maxDepth.
func (c *cursor) skip(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested deeper than %d", errProtocol, maxDepth)
	}
	if c.p >= len(c.b) {
		return errIncomplete
	}
	t := c.b[c.p]
	c.p++
	switch t {
	case '+', '-', ':', '_', ',', '#', '(':
		_, err := c.line(maxLine)
		return err
	case '$', '!', '=':
		_, err := c.blob()
		return err
	case '*', '>', '~', '%', '|':
		n, err := c.int()
		if err != nil {
			return err
		}
		if n == -1 && t == '*' {
			return nil
		}
		if n < 0 || n > maxElems {
			return fmt.Errorf("%w: aggregate of %d elements", errProtocol, n)
		}
		if t == '%' || t == '|' {
			n *= 2 // a map or an attribute holds key-value pairs
		}
		for range n {
			if err := c.skip(depth + 1); err != nil {
				return err
			}
		}
		if t == '|' {
			// An attribute comes before the value it describes.
			return c.skip(depth + 1)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown type byte %q", errProtocol, t)
}
