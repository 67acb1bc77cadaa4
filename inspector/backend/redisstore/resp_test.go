package redisstore

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseFrame(t *testing.T) {
	cases := []struct {
		name             string
		in               string
		kind             frameKind
		channel, payload string
		text             string
	}{
		{name: "RESP2 pmessage", in: "*4\r\n$8\r\npmessage\r\n$16\r\n__keyevent@0__:*\r\n$18\r\n__keyevent@0__:set\r\n$6\r\nsess:1\r\n",
			kind: frameMessage, channel: "__keyevent@0__:set", payload: "sess:1"},
		{name: "RESP3 push pmessage", in: ">4\r\n$8\r\npmessage\r\n$16\r\n__keyevent@0__:*\r\n$21\r\n__keyevent@0__:expire\r\n$6\r\nsess:1\r\n",
			kind: frameMessage, channel: "__keyevent@0__:expire", payload: "sess:1"},
		{name: "message", in: "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$0\r\n\r\n", kind: frameMessage, channel: "ch", payload: ""},
		{name: "psubscribe confirmation", in: "*3\r\n$10\r\npsubscribe\r\n$16\r\n__keyevent@0__:*\r\n:1\r\n", kind: frameSubscribed},
		{name: "RESP3 psubscribe confirmation", in: ">3\r\n$10\r\npsubscribe\r\n$16\r\n__keyevent@0__:*\r\n:1\r\n", kind: frameSubscribed},
		{name: "RESP2 pong", in: "*2\r\n$4\r\npong\r\n$0\r\n\r\n", kind: framePong},
		{name: "RESP3 pong", in: "+PONG\r\n", kind: framePong},
		{name: "error", in: "-NOPERM this user has no permissions to access one of the channels\r\n", kind: frameError,
			text: "NOPERM this user has no permissions to access one of the channels"},
		{name: "blob error", in: "!5\r\nERR x\r\n", kind: frameError, text: "ERR x"},
		{name: "another push", in: ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n", kind: frameOther},
		{name: "nested map skipped", in: "%1\r\n+a\r\n*2\r\n:1\r\n~1\r\n#t\r\n", kind: frameOther},
		{name: "attribute then value", in: "|1\r\n+a\r\n:1\r\n:2\r\n", kind: frameOther},
		{name: "null array", in: "*-1\r\n", kind: frameOther},
		{name: "empty array", in: "*0\r\n", kind: frameOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Followed by another frame, which must be left alone.
			in := tc.in + "+PONG\r\n"
			f, n, err := parseFrame([]byte(in))
			if err != nil {
				t.Fatalf("parseFrame: %v", err)
			}
			if n != len(tc.in) {
				t.Errorf("consumed %d bytes, want %d", n, len(tc.in))
			}
			if f.Kind != tc.kind || string(f.Channel) != tc.channel || string(f.Payload) != tc.payload || string(f.Text) != tc.text {
				t.Errorf("got kind %d channel %q payload %q text %q", f.Kind, f.Channel, f.Payload, f.Text)
			}
			// Every strict prefix of a frame is incomplete, never an error or a frame.
			for i := range len(tc.in) {
				if _, _, err := parseFrame([]byte(tc.in[:i])); !errors.Is(err, errIncomplete) {
					t.Fatalf("prefix of %d bytes: err %v, want errIncomplete", i, err)
				}
			}
		})
	}
}

func TestParseFrameRejects(t *testing.T) {
	cases := map[string]string{
		"bad type byte":        "?3\r\n",
		"bad length":           "*x\r\n",
		"negative bulk":        "*1\r\n$-5\r\n",
		"bulk over the limit":  "*1\r\n$2000000\r\n",
		"too many elements":    "*100000000\r\n",
		"bulk without CRLF":    "*1\r\n$2\r\nabXY",
		"line without CR":      "+PONG\n",
		"length too long":      "*1234567890123456789012\r\n",
		"message not a string": "*3\r\n$7\r\nmessage\r\n:1\r\n:2\r\n",
		"nested too deep":      strings.Repeat("*1\r\n", maxDepth+3) + ":1\r\n",
		"line over the limit":  "+" + strings.Repeat("a", maxLine+10),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := parseFrame([]byte(in))
			if !errors.Is(err, errProtocol) {
				t.Fatalf("err %v, want a protocol error", err)
			}
		})
	}
}

// FuzzParseFrame checks that no input makes the parser panic, read past what it was
// given, or claim a frame it did not consume.
func FuzzParseFrame(f *testing.F) {
	for _, seed := range []string{
		"*4\r\n$8\r\npmessage\r\n$16\r\n__keyevent@0__:*\r\n$18\r\n__keyevent@0__:set\r\n$6\r\nsess:1\r\n",
		">4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\nc\r\n$1\r\nk\r\n",
		"*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n",
		"+PONG\r\n", "-ERR x\r\n", "%1\r\n+a\r\n*2\r\n:1\r\n~1\r\n#t\r\n", "|1\r\n+a\r\n:1\r\n:2\r\n",
		"*-1\r\n", "$-1\r\n", "!3\r\nabc\r\n", "=5\r\ntxt:x\r\n", "(123\r\n", ",1.5\r\n", "_\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		fr, n, err := parseFrame(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("parseFrame modified its input")
		}
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with %d bytes consumed", err, n)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		for _, s := range [][]byte{fr.Channel, fr.Payload, fr.Text} {
			if len(s) > maxLine && len(s) > maxBulk {
				t.Fatalf("field of %d bytes passed the limits", len(s))
			}
		}
		// A frame is self-delimiting: the bytes after it do not change it.
		fr2, n2, err2 := parseFrame(append(bytes.Clone(b[:n]), "junk"...))
		if err2 != nil || n2 != n || fr2.Kind != fr.Kind || !bytes.Equal(fr2.Channel, fr.Channel) || !bytes.Equal(fr2.Payload, fr.Payload) {
			t.Fatalf("frame changed by what follows it: %v %d/%d", err2, n2, n)
		}
	})
}
