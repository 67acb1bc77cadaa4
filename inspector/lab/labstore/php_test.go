package labstore

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/codec"
)

func TestEncodePHP(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Session
		want string
	}{
		{"empty", Session{}, ""},
		{"string", Session{"user": "ada"}, `user|s:3:"ada";`},
		{"utf-8 counts bytes", Session{"name": "Zoë ☕"}, `name|s:8:"Zoë ☕";`},
		{"quotes and bars in values", Session{"v": `a"|;b`}, `v|s:5:"a"|;b";`},
		{"ints", Session{"n": int64(-42), "m": 7}, `m|i:7;n|i:-42;`},
		{"bools and null", Session{"a": true, "b": false, "c": nil}, `a|b:1;b|b:0;c|N;`},
		{"sorted names", Session{"z": "1", "a": "2", "_token": "t"}, `_token|s:1:"t";a|s:1:"2";z|s:1:"1";`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncodePHP(tc.in)
			if err != nil {
				t.Fatalf("EncodePHP: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("EncodePHP = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestEncodePHPRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Session
	}{
		{"bar in name", Session{"a|b": "x"}},
		{"float", Session{"f": 1.5}},
		{"array", Session{"l": []string{"x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := EncodePHP(tc.in); err == nil {
				t.Errorf("EncodePHP(%v) succeeded; want an error", tc.in)
			}
		})
	}
}

// TestDecodeMatchesInspector: what the lab writes, sessionscope's decoder (the one the
// tracker uses, format sniffed) reads back field for field.
func TestDecodeMatchesInspector(t *testing.T) {
	in := Session{"user": "ada", "uid": int64(7), "auth": true, "note": "Zoë"}
	data, err := EncodePHP(in)
	if err != nil {
		t.Fatal(err)
	}
	p, err := codec.Decode(codec.FormatAuto, data, codec.Limits{})
	if err != nil {
		t.Fatalf("codec.Decode: %v", err)
	}
	if p.Format != codec.FormatPHP {
		t.Errorf("sniffed format %q, want php", p.Format)
	}
	if v, ok := p.Lookup("note"); !ok || v.Str != "Zoë" {
		t.Errorf("note = %+v, %v", v, ok)
	}
	out, err := DecodePHP(data)
	if err != nil {
		t.Fatalf("DecodePHP: %v", err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("DecodePHP = %v, want %v", out, in)
	}
}

func TestDecodePHPRefusesNonScalars(t *testing.T) {
	if _, err := DecodePHP([]byte(`list|a:1:{i:0;s:1:"x";}`)); err == nil {
		t.Error("DecodePHP accepted an array")
	}
	if _, err := DecodePHP([]byte(`user|s:9:"ada";`)); err == nil {
		t.Error("DecodePHP accepted a wrong string length")
	}
}

// FuzzPHPRoundTrip: any session the encoder accepts decodes, with inspector/codec, to
// the same variables; names with '|' are refused; nothing panics.
func FuzzPHPRoundTrip(f *testing.F) {
	f.Add("user", "ada", int64(7), true)
	f.Add("!x", "Zoë ☕", int64(-1), false)
	f.Add("", "", int64(0), false)
	f.Add("a|b", `s:1:"x";`, int64(1<<62), true)
	f.Add("n", "\x00\xff\"|;", int64(-1<<63), false)
	f.Fuzz(func(t *testing.T, name, str string, n int64, b bool) {
		in := Session{name: str, name + "#n": n, name + "#b": b, name + "#nil": nil}
		data, err := EncodePHP(in)
		if err != nil {
			if !strings.Contains(name, "|") {
				t.Fatalf("EncodePHP refused %q: %v", name, err)
			}
			return
		}
		out, err := DecodePHP(data)
		if err != nil {
			t.Fatalf("DecodePHP(%q): %v", data, err)
		}
		if !reflect.DeepEqual(out, in) {
			t.Fatalf("round trip of %q: got %#v, want %#v", data, out, in)
		}
	})
}

// FuzzDecodePHP: arbitrary bytes never panic the lab's reader.
func FuzzDecodePHP(f *testing.F) {
	f.Add([]byte(`user|s:3:"ada";auth|b:1;`))
	f.Add([]byte(`x|a:1:{i:0;N;}`))
	f.Add([]byte(`!x|`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodePHP(data)
		if err == nil {
			if _, err := EncodePHP(s); err != nil && !strings.Contains(err.Error(), "'|'") {
				t.Fatalf("a decoded session does not encode: %v", err)
			}
		}
	})
}
