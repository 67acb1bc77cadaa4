package traffic

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestBodyFilterSqueezesWhitespace: a pretty-printed HAR read from a pipe in small
// chunks must give the same exchanges as the compact file, with runs of whitespace
// outside strings cut to one byte (and whitespace inside strings kept).
func TestBodyFilterSqueezesWhitespace(t *testing.T) {
	entry := `{"startedDateTime":"2026-11-22T10:00:00Z","request":{"method":"GET","url":"http://a.test/x  y","headers":[{"name":"User-Agent","value":"ua   with   spaces"}]},"response":{"status":200,"headers":[]}}`
	pad := strings.Repeat(" \n\t", 1<<18) // 768 KiB between tokens
	har := `{"log":{` + pad + `"entries":[` + pad + entry + pad + `,` + entry + `]}}`
	read := func(r io.Reader) []*model.Exchange {
		var xs []*model.Exchange
		if _, err := ReadHAR(r, HAROptions{}, func(x *model.Exchange) error { xs = append(xs, x); return nil }); err != nil {
			t.Fatal(err)
		}
		return xs
	}
	got := read(iotest.HalfReader(bytes.NewReader([]byte(har))))
	if len(got) != 2 || got[0].RawURL != "http://a.test/x  y" || got[1].Client.UA != "ua   with   spaces" {
		t.Fatalf("got %d exchanges: %+v", len(got), got)
	}

	f := newBodyFilter(strings.NewReader(`[1,`+pad+`2 ,"a  b"]`), 100, 10)
	out, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `[1, 2 ,"a  b"]` {
		t.Fatalf("filtered to %q", out)
	}
}
