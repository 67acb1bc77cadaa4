package codec

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// nested builds a payload with depth containers, one inside the other.
func nested(format Format, depth int) []byte {
	switch format {
	case FormatPHP:
		return []byte("x|" + strings.Repeat("a:1:{i:0;", depth) + "N;" + strings.Repeat("}", depth))
	case FormatPHPSerialize:
		return []byte(strings.Repeat("a:1:{i:0;", depth) + "N;" + strings.Repeat("}", depth))
	case FormatPHPBinary:
		return []byte("\x01x" + strings.Repeat("a:1:{i:0;", depth) + "N;" + strings.Repeat("}", depth))
	case FormatLaravel:
		inner := strings.Repeat("a:1:{i:0;", depth) + "N;" + strings.Repeat("}", depth)
		return []byte("s:" + itoa(len(inner)) + `:"` + inner + `";`)
	case FormatIgbinary:
		return []byte("\x00\x00\x00\x02" + strings.Repeat("\x14\x01\x06\x00", depth) + "\x00")
	case FormatJSON, FormatExpress:
		return []byte(strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth))
	case FormatMsgpack:
		return []byte(strings.Repeat("\x81\xa1a", depth) + "\x01")
	case FormatRubyMarshal:
		return []byte("\x04\x08" + strings.Repeat("[\x06", depth) + "0")
	}
	panic("no nesting for " + string(format))
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestDepthLimit(t *testing.T) {
	formats := []Format{FormatPHP, FormatPHPSerialize, FormatPHPBinary, FormatLaravel, FormatIgbinary, FormatJSON, FormatExpress, FormatMsgpack, FormatRubyMarshal}
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			lim := Limits{MaxDepth: 10}
			if _, err := Decode(f, nested(f, 9), lim); err != nil {
				t.Fatalf("depth 9 within MaxDepth 10: %v", err)
			}
			if _, err := Decode(f, nested(f, 11), lim); !errors.Is(err, ErrTooDeep) {
				t.Fatalf("depth 11: err = %v, want ErrTooDeep", err)
			}
			// A bomb far past the default limit fails fast instead of
			// recursing a hundred thousand frames deep.
			bomb := nested(f, 100_000)
			if _, err := Decode(f, bomb, Limits{}); !errors.Is(err, ErrTooDeep) {
				t.Fatalf("bomb: err = %v, want ErrTooDeep", err)
			}
			// Auto detection reports the limit rather than hiding it.
			if _, err := Decode(FormatAuto, bomb, Limits{}); !errors.Is(err, ErrTooDeep) {
				t.Fatalf("auto bomb: err = %v, want ErrTooDeep", err)
			}
		})
	}
	t.Run("ruby marshal wrapper and symbol chains", func(t *testing.T) {
		// Types that nest without being containers (extended objects, and a
		// Symbol whose instance variable names are Symbols with instance
		// variables) are bounded too.
		for _, in := range []string{
			"\x04\x08" + strings.Repeat("e:\x06M", 100_000) + "0",
			"\x04\x08o" + strings.Repeat("I:\x06a\x06", 100_000),
		} {
			if _, err := Decode(FormatRubyMarshal, []byte(in), Limits{}); !errors.Is(err, ErrTooDeep) {
				t.Fatalf("err = %v", err)
			}
		}
	})
	t.Run("igbinary ref chain", func(t *testing.T) {
		in := []byte("\x00\x00\x00\x02\x14\x01\x06\x00" + strings.Repeat("\x25", 100_000) + "\x00")
		if _, err := Decode(FormatIgbinary, in, Limits{}); !errors.Is(err, ErrTooDeep) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestNodeLimit(t *testing.T) {
	many := "a:1000:{" + strings.Repeat("i:0;N;", 1000) + "}"
	tests := []struct {
		format Format
		in     string
	}{
		{FormatPHPSerialize, many},
		{FormatPHP, "x|" + many},
		{FormatJSON, "[" + strings.TrimSuffix(strings.Repeat("1,", 1000), ",") + "]"},
		{FormatMsgpack, "\xdc\x03\xe8" + strings.Repeat("\x01", 1000)},
		{FormatIgbinary, "\x00\x00\x00\x02\x15\x03\xe8" + strings.Repeat("\x06\x00\x00", 1000)},
		{FormatRubyMarshal, "\x04\x08[\x02\xe8\x03" + strings.Repeat("0", 1000)},
	}
	for _, tc := range tests {
		t.Run(string(tc.format), func(t *testing.T) {
			if _, err := Decode(tc.format, []byte(tc.in), Limits{MaxNodes: 500}); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			if _, err := Decode(tc.format, []byte(tc.in), Limits{MaxNodes: 5000}); err != nil {
				t.Fatalf("within the limit: %v", err)
			}
		})
	}
}

func TestLimitsNormalized(t *testing.T) {
	got := Limits{MaxDepth: 3}.normalized()
	if got.MaxDepth != 3 || got.MaxNodes != DefaultLimits.MaxNodes {
		t.Fatalf("normalized = %+v", got)
	}
	if got := (Limits{}).normalized(); got != DefaultLimits {
		t.Fatalf("zero Limits = %+v", got)
	}
}

// TestDeclaredLengthsAllocateNothing checks that a tiny input declaring a
// huge length or count is rejected without allocating anything near that
// size: each decode below may allocate a few KB at most.
func TestDeclaredLengthsAllocateNothing(t *testing.T) {
	tests := []struct {
		format Format
		in     string
	}{
		{FormatPHPSerialize, `a:100000000:{`},
		{FormatPHPSerialize, `s:999999999:"x";`},
		{FormatPHP, `x|a:2147483647:{i:0;N;}`},
		{FormatPHPSerialize, `a:1:{i:0;O:999999999:"x":1:{}}`},
		{FormatPHPSerialize, `a:1:{i:0;C:1:"A":999999999:{}}`},
		{FormatPHPSerialize, `a:1:{i:0;S:999999999:"x";}`},
		{FormatIgbinary, "\x00\x00\x00\x02\x16\xff\xff\xff\xff"},
		{FormatIgbinary, "\x00\x00\x00\x02\x14\x01\x11\x01a\x13\xff\xff\xff\xff"},
		{FormatIgbinary, "\x00\x00\x00\x02\x14\x01\x11\x01a\x26\xff\xff\xff\xff\xff\xff\xff\xff"},
		{FormatMsgpack, "\xdf\xff\xff\xff\xff"},
		{FormatMsgpack, "\x81\xa1k\xc6\xff\xff\xff\xff"},
		{FormatMsgpack, "\x81\xa1k\xdb\xff\xff\xff\xff"},
		{FormatMsgpack, "\x81\xa1k\xdd\xff\xff\xff\xff"},
		{FormatMsgpack, "\x81\xa1k\xc9\xff\xff\xff\xff\x01"},
		{FormatLaravel, `s:999999999:"a:1:{";`},
		{FormatRubyMarshal, "\x04\x08\"\x04\xff\xff\xff\x7f"},
		{FormatRubyMarshal, "\x04\x08[\x04\xff\xff\xff\x7f"},
		{FormatRubyMarshal, "\x04\x08{\x04\xff\xff\xff\x7f"},
		{FormatRubyMarshal, "\x04\x08l+\x04\xff\xff\xff\x7f"},
		{FormatRubyMarshal, "\x04\x08o:\x06A\x04\xff\xff\xff\x7f"},
		{FormatRubyMarshal, "\x04\x08S:\x06A\x04\xff\xff\xff\x7f"},
		{FormatRubyMarshal, "\x04\x08u:\x06A\x04\xff\xff\xff\x7f"},
		{FormatRubyMarshal, "\x04\x08I\"\x06x\x04\xff\xff\xff\x7f"},
	}
	for _, tc := range tests {
		t.Run(string(tc.format)+" "+tc.in, func(t *testing.T) {
			data := []byte(tc.in)
			const runs = 20
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := 0; i < runs; i++ {
				if _, err := Decode(tc.format, data, Limits{}); !errors.Is(err, ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
			}
			runtime.ReadMemStats(&after)
			if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 16<<10 {
				t.Fatalf("allocated %d bytes per decode of a %d-byte input", per, len(data))
			}
		})
	}
}

// TestNestedCountsDoNotMultiply checks that nested containers that each
// declare a large count do not each reserve room for it: the allocation
// stays proportional to the input, not to depth times input.
func TestNestedCountsDoNotMultiply(t *testing.T) {
	const levels = 60
	pad := strings.Repeat("i:0;N;", 50_000) // makes the declared counts look affordable
	tests := []struct {
		format Format
		in     string
	}{
		{FormatPHPSerialize, strings.Repeat("a:40000:{i:0;", levels) + pad},
		{FormatIgbinary, "\x00\x00\x00\x02" + strings.Repeat("\x15\xff\xff\x06\x00", levels) + strings.Repeat("\x00", 300_000)},
		// One large bin value makes the counts look affordable without being
		// many values: the cost per decoded value is bounded by MaxNodes,
		// not by this test.
		{FormatMsgpack, strings.Repeat("\xdc\xff\xff", levels) + "\xc6\x00\x04\x93\xe0" + strings.Repeat("x", 300_000)},
		// Arrays of 40,000 items each, then one 300,000-byte String.
		{FormatRubyMarshal, "\x04\x08" + strings.Repeat("[\x02\x40\x9c", levels) + "\"\x03\xe0\x93\x04" + strings.Repeat("x", 300_000)},
	}
	for _, tc := range tests {
		t.Run(string(tc.format), func(t *testing.T) {
			data := []byte(tc.in)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			if _, err := Decode(tc.format, data, Limits{}); err == nil {
				t.Fatal("decoded a payload whose counts lie")
			}
			runtime.ReadMemStats(&after)
			if got := after.TotalAlloc - before.TotalAlloc; got > uint64(4*len(data)+(1<<20)) {
				t.Fatalf("allocated %d bytes for a %d-byte input", got, len(data))
			}
		})
	}
}
