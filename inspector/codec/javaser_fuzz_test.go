package codec

import (
	"bytes"
	"testing"
)

// FuzzJavaSerial checks the data-only Java reader on mutations of the JDK's
// own streams and of hand-made ones: it never panics, every error wraps a
// sentinel, and the same bytes decode the same way as a Spring attribute.
func FuzzJavaSerial(f *testing.F) {
	for _, b := range javaSeeds(f) {
		f.Add(b)
	}
	for _, s := range []string{
		"\xac\xed\x00\x05", "\xac\xed\x00\x05p", "\xac\xed\x00\x05yt\x00\x01x",
		"\xac\xed\x00\x05|\x00\x00\x00\x00\x00\x00\x00\x01a",
		"\xac\xed\x00\x05ur\x00\x02[I\x00\x00\x00\x00\x00\x00\x00\x01\x02\x00\x00xp\x7f\xff\xff\xff",
		"\xac\xed\x00\x05sr\x00\x01A\x00\x00\x00\x00\x00\x00\x00\x01\x03\x00\x00xpz\x00\x00\x00\x01ax",
		"\xac\xed\x00\x05sr\x00\x01A\x00\x00\x00\x00\x00\x00\x00\x01\x02\x00\x00xq\x00~\x00\x00",
		"\xac\xed\x00\x05sr\x00\x01A\x00\x00\x00\x00\x00\x00\x00\x01\x02\x00\x01L\x00\x01vt\x00\x01Lxpq\x00~\x00\x02",
		"\xac\xed\x00\x05sr\x00\x01A\x00\x00\x00\x00\x00\x00\x00\x01\x0c\x00\x00xpw\x01ax",
		"\xac\xed\x00\x05s}\x00\x00\x00\x01\x00\x01Ixp",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(FormatJavaSerial, data, fuzzLimits)
		checkDecode(t, data, p, err)
		if err == nil && p.Format != FormatJavaSerial {
			t.Fatalf("Decode(java).Format = %s", p.Format)
		}
		sp, serr := DecodeSpringHash([]HashField{{"sessionAttr:a", data}}, fuzzLimits)
		if serr != nil {
			if !isLimitError(serr) {
				t.Fatalf("spring attribute failed for a reason other than a limit: %v", serr)
			}
			return
		}
		v := sp.Fields[0].Value
		if top, err := decodeJavaValue(data, newBudget(fuzzLimits)); err == nil && v.Fingerprint() != top.Fingerprint() {
			t.Fatal("the same stream decodes differently as a payload and as a Spring attribute")
		}
		if err != nil && !isLimitError(err) && bytes.HasPrefix(data, javaMagic) && (v.Kind != KindOpaque || v.Opaque.Type != FormatJavaSerial) {
			t.Fatalf("undecodable attribute shown as %s", v)
		}
	})
}
