package codec

import (
	"os"
	"testing"
)

// BenchmarkDecodePHP2KB decodes a ~2 KB php-handler session written by
// php-cli (testdata/php/bench2k.bin): a logged-in user with a cart,
// preferences, recent pages and CSRF tokens.
func BenchmarkDecodePHP2KB(b *testing.B) {
	data, err := os.ReadFile("testdata/php/bench2k.bin")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(FormatPHP, data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeExpressJSON2KB decodes a ~2 KB express-session JSON
// session.
func BenchmarkDecodeExpressJSON2KB(b *testing.B) {
	data := expressBench2K()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(FormatExpress, data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSniffPHP2KB measures FormatAuto on the same PHP session: the
// sniffer confirms the format by decoding, so this is the cost the tracker
// pays per write when no format is configured.
func BenchmarkSniffPHP2KB(b *testing.B) {
	data, err := os.ReadFile("testdata/php/bench2k.bin")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(FormatAuto, data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
