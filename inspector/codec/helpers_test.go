package codec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seed reads one committed seed payload.
func seed(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedDir returns every seed payload in testdata/<dir>.
func seedDir(t testing.TB, dir string) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		t.Fatalf("no seeds in testdata/%s", dir)
	}
	return out
}

// allSeeds returns every seed payload, for the sniffing tests and fuzzers.
func allSeeds(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, d := range []string{"php", "php_binary", "php_serialize", "igbinary", "laravel", "symfony",
		"express", "json", "msgpack", "pickle", "ruby_marshal", "spring", "gob"} {
		out = append(out, seedDir(t, d)...)
	}
	return append(out, javaSeeds(t)...) // testdata/java holds the generator's sources too
}

// expressBench2K builds a realistic ~2 KB express-session payload.
func expressBench2K() []byte {
	var sb strings.Builder
	sb.WriteString(`{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-23T01:00:00.000Z","secure":true,"httpOnly":true,"domain":"shop.example.com","path":"/","sameSite":"lax"},`)
	sb.WriteString(`"csrfSecret":"Zk3lQ0vI8xW2-aYbR7mN1pTq","passport":{"user":"64f1c2a9e8b7d6c5b4a39281"},"returnTo":"/checkout?step=2",`)
	sb.WriteString(`"cart":{"currency":"EUR","items":[`)
	for i := 0; i < 10; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"sku":"SKU-%04d","name":"Product %d – café edition","qty":%d,"price":%d.99,"gift":%t}`, i, i, i%3+1, 10+i, i%2 == 0)
	}
	sb.WriteString(`]},"recent":[`)
	for i := 0; i < 8; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"path":"/products/item-%d","at":%d}`, i, 1763772000000+int64(i)*37000)
	}
	sb.WriteString(`],"flash":{},"views":17}`)
	return []byte(sb.String())
}

// decodeBoth decodes data as format explicitly and through auto detection, checks
// that both (and Sniff) name the format, decode it in full and agree field by field,
// and returns the explicit result.
func decodeBoth(t *testing.T, format Format, data []byte) *Payload {
	t.Helper()
	p, err := Decode(format, data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	auto, err := Decode(FormatAuto, data, Limits{})
	if err != nil {
		t.Fatalf("auto: %v", err)
	}
	if p.Format != format || auto.Format != format || Sniff(data) != format {
		t.Fatalf("Format = %s, auto %s, Sniff %s; want %s", p.Format, auto.Format, Sniff(data), format)
	}
	if p.Opaque != nil || auto.Opaque != nil {
		t.Fatalf("Opaque = %+v, auto %+v", p.Opaque, auto.Opaque)
	}
	if p.Size != len(data) {
		t.Fatalf("Size = %d, want %d", p.Size, len(data))
	}
	pf, af := p.FieldFingerprints(), auto.FieldFingerprints()
	if len(pf) != len(af) {
		t.Fatalf("explicit fields %v, auto %v", keys(p.Fields), keys(auto.Fields))
	}
	for k, v := range pf {
		if af[k] != v {
			t.Fatalf("field %q differs between explicit and auto decoding", k)
		}
	}
	return p
}
