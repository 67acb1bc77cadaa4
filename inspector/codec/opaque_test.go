package codec

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

// TestOpaqueOutline: the outline of undecoded bytes gives their size, the format guess
// and each byte's class, and none of the byte values: neither as text nor as hex.
func TestOpaqueOutline(t *testing.T) {
	t.Parallel()
	secret := "Pa55-w0rd-SECRET-42"
	csrf := "079dc00f4138d764343"
	data := []byte("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x7d\x94(\x8c\x0acsrf_token\x94\x8c\x13" + csrf +
		"\x94\x8c\x08password\x94\x8c\x13" + secret + "\x94u.")
	for _, tc := range []struct {
		name string
		o    *Opaque
		size int
	}{
		{"pickle-like", OpaqueOf(data, FormatPickle, false), len(data)},
		{"long", OpaqueOf([]byte(strings.Repeat(secret, 100)), FormatOpaque, true), 1900},
		{"sub-string", opaqueOfString(string(data), FormatJavaSerial), len(data)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.o.Outline()
			if !strings.Contains(tc.o.Preview, "SECRET") {
				t.Fatalf("the preview itself should still hold the bytes (for --reveal-values): %s", tc.o.Preview)
			}
			for _, leak := range []string{secret, "Pa55", "SECRET", csrf, "079dc", "csrf", "password",
				hex.EncodeToString([]byte("Pa")), "50 61 35 35", "80 04 95", "7d 94"} {
				if strings.Contains(out, leak) {
					t.Errorf("outline holds %q:\n%s", leak, out)
				}
			}
			if !strings.Contains(out, string(tc.o.Type)) || !strings.Contains(out, " bytes") || !strings.Contains(out, "byte values hidden") {
				t.Errorf("outline lacks size or format:\n%s", out)
			}
			if want := strings.Count(tc.o.Preview, "\n"); strings.Count(out, "\n") != want+2 {
				t.Errorf("outline has %d lines, want %d rows + 2:\n%s", strings.Count(out, "\n"), want, out)
			}
		})
	}
	o := OpaqueOf(data, FormatPickle, false)
	lines := strings.Split(o.Outline(), "\n")
	if lines[2] != "00000000  bbb0000000tbtbbt" {
		t.Errorf("first row %q", lines[2])
	}
	if !strings.HasPrefix(lines[0], strconv.Itoa(len(data))+" bytes, format guess pickle") {
		t.Errorf("head %q", lines[0])
	}
	if got := OpaqueOf(nil, FormatOpaque, false).Outline(); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "0 bytes") {
		t.Errorf("empty outline %q", got)
	}
	// A preview that is not a hex dump (hand-built, hostile) gives no rows and no text of it.
	hostile := (&Opaque{Type: FormatPickle, Size: 40, Preview: "00000000  80 04 95 <script>  |....|"}).Outline()
	if strings.Contains(hostile, "<script>") || strings.Contains(hostile, "80") {
		t.Errorf("hostile preview outline %q", hostile)
	}
}
