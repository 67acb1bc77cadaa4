package codec

import (
	"errors"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// fuzzLimits keep fuzzing fast while still exercising the limit paths.
var fuzzLimits = Limits{MaxDepth: 32, MaxNodes: 20_000}

// addSeeds seeds a fuzz target with the committed payloads of dirs and some
// hand-made edge cases.
func addSeeds(f *testing.F, extra []string, dirs ...string) {
	for _, d := range dirs {
		for _, b := range seedDir(f, d) {
			f.Add(b)
		}
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

var phpEdgeSeeds = []string{
	``, `N;`, `a:0:{}`, `s:999999999:"x";`, `a:2147483647:{`, `a:1:{i:0;r:1;}`,
	`O:8:"stdClass":1:{s:4:"` + "\x00*\x00p" + `";i:1;}`, `C:1:"A":3:{abc}`, `E:6:"A:Case";`, `S:2:"\41b";`, `d:-INF;`,
}

// checkDecode asserts what every decode must guarantee, whatever the input.
func checkDecode(t *testing.T, data []byte, p *Payload, err error) {
	t.Helper()
	if err != nil {
		if p != nil {
			t.Fatalf("payload returned with error %v", err)
		}
		if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrTooDeep) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		if o := OpaqueOf(data, FormatOpaque, false); o.Size != len(data) {
			t.Fatalf("OpaqueOf size %d", o.Size)
		}
		return
	}
	checkPayload(t, p, len(data))
	if p.Digest != xxhash.Sum64(data) {
		t.Fatal("Digest is not xxhash of the input")
	}
}

func checkPayload(t *testing.T, p *Payload, inputLen int) {
	t.Helper()
	if p == nil {
		t.Fatal("nil payload without error")
	}
	if p.Format == "" || p.Format == FormatAuto {
		t.Fatalf("Format = %q", p.Format)
	}
	if p.Size < 0 || p.Size > inputLen {
		t.Fatalf("Size %d for %d input bytes", p.Size, inputLen)
	}
	if p.Opaque != nil && len(p.Fields) != 0 {
		t.Fatal("opaque payload with fields")
	}
	fp := p.FieldFingerprints()
	if p.Opaque == nil && len(p.Fields) > 0 && len(fp) == 0 {
		t.Fatal("fields without fingerprints")
	}
	for _, e := range p.Fields {
		if s := e.Value.String(); len(s) > maxRender+len("…") {
			t.Fatalf("String() is %d bytes", len(s))
		}
		p.Lookup(e.Key)
	}
}

func fuzzFormat(f *testing.F, format Format) {
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(format, data, fuzzLimits)
		checkDecode(t, data, p, err)
		if err == nil && p.Format != format {
			t.Fatalf("Decode(%s).Format = %s", format, p.Format)
		}
	})
}

func FuzzPHP(f *testing.F) {
	addSeeds(f, append([]string{`!a|`, `x|i:1;y|`, `|N;`}, phpEdgeSeeds...), "php", "symfony")
	fuzzFormat(f, FormatPHP)
}

func FuzzPHPSerialize(f *testing.F) {
	addSeeds(f, phpEdgeSeeds, "php_serialize")
	fuzzFormat(f, FormatPHPSerialize)
}

func FuzzPHPBinary(f *testing.F) {
	addSeeds(f, []string{"\x84gone", "\x01xN;", "\x7f"}, "php_binary")
	fuzzFormat(f, FormatPHPBinary)
}

func FuzzIgbinary(f *testing.F) {
	addSeeds(f, []string{"\x00\x00\x00\x02\x14\x00", "\x00\x00\x00\x02\x16\xff\xff\xff\xff", "\x00\x00\x00\x01\x14\x01\x11\x01a\x25\x0e\x00"}, "igbinary")
	fuzzFormat(f, FormatIgbinary)
}

func FuzzLaravel(f *testing.F) {
	addSeeds(f, []string{`s:6:"a:0:{}";`, `s:2:"{}";`, laravelEnvelopePrefix}, "laravel")
	fuzzFormat(f, FormatLaravel)
}

func FuzzSymfony(f *testing.F) {
	addSeeds(f, []string{`_sf2_meta|a:3:{s:1:"u";i:1;s:1:"c";i:2;s:1:"l";s:1:"9";}`}, "symfony")
	fuzzFormat(f, FormatSymfony)
}

func FuzzJSON(f *testing.F) {
	addSeeds(f, []string{`[]`, `"x"`, `{"a":[1,{"b":null}]}`, `1e999`}, "json", "express")
	fuzzFormat(f, FormatJSON)
}

func FuzzExpress(f *testing.F) {
	addSeeds(f, []string{`{"cookie":{"sameSite":false,"expires":"x","originalMaxAge":1.5}}`}, "express")
	fuzzFormat(f, FormatExpress)
}

func FuzzMsgpack(f *testing.F) {
	addSeeds(f, []string{"\x80", "\x81\xa1k\xc6\xff\xff\xff\xff", "\x81\xa1t\xd6\xff\x00\x00\x00\x01"}, "msgpack")
	fuzzFormat(f, FormatMsgpack)
}

func FuzzRubyMarshal(f *testing.F) {
	addSeeds(f, []string{"\x04\x08", "\x04\x08{\x00", "\x04\x08\"\x04\xff\xff\xff\x7f", "\x04\x08[\x07:\x06a;\x00",
		"\x04\x08[\x07I\"\x06x\x06:\x06ET@\x06", "\x04\x08}\x00i\x06", "\x04\x08Iu:\tTime\r \x80\x11\x80\x00\x00\x00\x00\x06:\x0boffseti\x00",
		"\x04\x08C:\x06H{\x00", "\x04\x08e:\x06M[\x00", "\x04\x08U:\x06D[\x06f\x08nan", "\x04\x08l-\x09\x00\x00\x00\x00\x00\x00\x00\x80"}, "ruby_marshal")
	fuzzFormat(f, FormatRubyMarshal)
}

func FuzzPickle(f *testing.F) {
	addSeeds(f, []string{"N.", "\x80\x04}\x94\x8c\x04self\x94h\x00s.", "cos\nsystem\n(S'id'\ntR.", "(I01\nS'a\\x41'\nV\\u00e9\nl.",
		"\x80\x05\x95\x03\x00\x00\x00\x00\x00\x00\x00K\x01\x98.", "\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f.",
		"\x80\x02\x8b\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80.", "\x80\x04\x8c\x01m\x8c\x01C\x93)}\x92\x94K\x01b.",
		"\x80\x04]\x94h\x00]\x94a0.", "\x80\x02\x82\x05Pabc\n2\x30\x31."}, "pickle")
	fuzzFormat(f, FormatPickle)
}

func FuzzSpringHash(f *testing.F) {
	created := seed(f, "spring/creationTime.bin")
	accessed := seed(f, "spring/lastAccessedTime.bin")
	inactive := seed(f, "spring/maxInactiveInterval.bin")
	attr := seed(f, "spring/sessionAttr_SPRING_SECURITY_CONTEXT.bin")
	f.Add(created, accessed, inactive, "sessionAttr:SPRING_SECURITY_CONTEXT", attr)
	f.Add([]byte("1763771000123"), []byte(`["java.lang.Long",1]`), []byte("1800"), "sessionAttr:cart", []byte(`{"a":[1]}`))
	f.Fuzz(func(t *testing.T, c, a, m []byte, name string, v []byte) {
		fields := []HashField{{"creationTime", c}, {"lastAccessedTime", a}, {"maxInactiveInterval", m}, {name, v}}
		total := 0
		for _, hf := range fields {
			total += len(hf.Name) + len(hf.Value)
		}
		p, err := DecodeSpringHash(fields, fuzzLimits)
		if err != nil {
			if !errors.Is(err, ErrTooDeep) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("spring error is not a limit: %v", err)
			}
			return
		}
		checkPayload(t, p, total)
		if p.Size != total {
			t.Fatalf("Size = %d, want %d", p.Size, total)
		}
	})
}

// FuzzSniff checks that auto detection never panics, agrees with Sniff, and
// fails only for limits, and that whatever it detects decodes the same way
// when that format is asked for explicitly.
func FuzzSniff(f *testing.F) {
	for _, b := range allSeeds(f) {
		f.Add(b)
	}
	for _, s := range phpEdgeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sniffed := Sniff(data)
		p, err := Decode(FormatAuto, data, Limits{})
		checkDecode(t, data, p, err)
		if err != nil {
			if !isLimitError(err) {
				t.Fatalf("auto detection failed for a reason other than a limit: %v", err)
			}
			if sniffed == FormatOpaque {
				t.Fatal("limit error for bytes Sniff did not recognise")
			}
			return
		}
		if p.Format != sniffed {
			t.Fatalf("Decode(auto).Format = %s, Sniff = %s", p.Format, sniffed)
		}
		if sniffed == FormatOpaque {
			return
		}
		q, err := Decode(sniffed, data, Limits{})
		if err != nil {
			t.Fatalf("Sniff said %s but Decode(%s) fails: %v", sniffed, sniffed, err)
		}
		if len(q.Fields) != len(p.Fields) {
			t.Fatalf("explicit %s decode has %d fields, auto %d", sniffed, len(q.Fields), len(p.Fields))
		}
	})
}
