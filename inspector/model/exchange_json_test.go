package model

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// oldExchangeJSON is the exchange's encoding before AppendJSON: encoding/json by
// reflection over the struct tags. The NDJSON contract says every byte stays the same.
func oldExchangeJSON(t *testing.T, x *Exchange) ([]byte, error) {
	t.Helper()
	type plain Exchange
	c := plain(*x)
	c.Type = TypeExchange
	if c.CookiesSent == nil {
		c.CookiesSent = []SentCookie{}
	}
	if c.SetCookies == nil {
		c.SetCookies = []SetCookie{}
	}
	return json.Marshal(&c)
}

// jsonPieces are string fragments that exercise every escape encoding/json makes.
var jsonPieces = []string{
	"", "a", "PHPSESSID", "/login?next=/a&b=<c>", "é", "日本", "😀", "\u2028", "\u2029",
	"\x00", "\x01", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t", `"`, `\`, "<", ">", "&",
	"\xff", "\xe2\x80", "\xed\xa0\x80", "a\xc3", "…", "\u00a0", "https://app.example/x?sid=abcd…ef",
}

func randJSONString(r *rand.Rand) string {
	var b strings.Builder
	for n := r.IntN(5); n > 0; n-- {
		b.WriteString(jsonPieces[r.IntN(len(jsonPieces))])
	}
	return b.String()
}

func randJSONTime(r *rand.Rand) time.Time {
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("X", 5*3600+30*60),
		time.FixedZone("Y", -8*3600), time.FixedZone("odd", 3600+17), // seconds: RFC 3339 drops them
		time.FixedZone("far", 25*3600), time.FixedZone("farW", -24*3600)} // MarshalJSON refuses
	switch r.IntN(12) {
	case 0:
		return time.Time{}
	case 1:
		return time.Date(10000+r.IntN(10), 1, 1, 0, 0, 0, 0, time.UTC) // MarshalJSON refuses
	case 2:
		return time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	t := time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
	if r.IntN(3) == 0 {
		t = t.Truncate(time.Second) // no fractional part
	}
	return t
}

func randExchange(r *rand.Rand) *Exchange {
	x := &Exchange{
		Type: randJSONString(r), Seq: r.Uint64() >> r.IntN(64), ID: randJSONString(r),
		Start: randJSONTime(r), HeadersSent: randJSONTime(r), End: randJSONTime(r),
		Method: randJSONString(r), URL: randJSONString(r), Status: r.IntN(700) - 100,
		Location: randJSONString(r), Client: Client{Addr: randJSONString(r), UA: randJSONString(r)},
		Upstream: randJSONString(r), UpstreamName: randJSONString(r), SessionRef: randJSONString(r),
		Source: randJSONString(r),
		// Never serialised: must not leak into the encoding.
		RawURL: "secret", RawLocation: "secret", RawReferer: "secret", Error: randJSONString(r),
		InjectedHeaders: []string{"x"}, Upgraded: true, LoginForm: true,
	}
	switch r.IntN(3) {
	case 0: // nil lists
	case 1:
		x.CookiesSent, x.SetCookies, x.CookiesBlocked = []SentCookie{}, []SetCookie{}, []BlockedCookie{}
	default:
		for n := r.IntN(4); n > 0; n-- {
			x.CookiesSent = append(x.CookiesSent, SentCookie{Name: randJSONString(r), SessionRef: randJSONString(r), Value: "secret"})
		}
		for n := r.IntN(4); n > 0; n-- {
			c := SetCookie{Name: randJSONString(r), Domain: randJSONString(r), Path: randJSONString(r),
				Secure: r.IntN(2) == 0, HTTPOnly: r.IntN(2) == 0, SameSite: randJSONString(r),
				SessionRef: randJSONString(r), Reason: randJSONString(r), Value: "secret", Raw: "secret"}
			if r.IntN(2) == 0 {
				e := randJSONTime(r)
				c.Expires = &e
			}
			if r.IntN(2) == 0 {
				m := r.IntN(1<<20) - 1<<10
				c.MaxAge = &m
			}
			if r.IntN(2) == 0 {
				s := r.IntN(2) == 0
				c.Stored = &s
			}
			x.SetCookies = append(x.SetCookies, c)
		}
		for n := r.IntN(3); n > 0; n-- {
			x.CookiesBlocked = append(x.CookiesBlocked, BlockedCookie{Name: randJSONString(r),
				SessionRef: randJSONString(r), Reason: randJSONString(r), Detail: randJSONString(r)})
		}
	}
	return x
}

// TestExchangeJSONMatchesReflection holds the hand-written encoding to encoding/json's
// over varied exchanges: every escape, empty and nil lists, omitted fields, odd times.
func TestExchangeJSONMatchesReflection(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 1))
	for i := range 20000 {
		x := randExchange(r)
		want, wantErr := oldExchangeJSON(t, x)
		got, gotErr := x.MarshalJSON()
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("exchange %d: error %v, want %v", i, gotErr, wantErr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("exchange %d:\n got %s\nwant %s", i, got, want)
		}
		// Appended after other bytes, as a reused buffer does.
		prefix := []byte("previous line\n")
		app, err := x.AppendJSON(prefix)
		if wantErr == nil && (err != nil || !bytes.Equal(app, append(prefix, want...))) {
			t.Fatalf("exchange %d appended: %s, %v", i, app, err)
		}
	}
}

// FuzzExchangeJSONString holds the string escaping to encoding/json's on any bytes.
func FuzzExchangeJSONString(f *testing.F) {
	for _, p := range jsonPieces {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x := &Exchange{URL: s, Client: Client{UA: s}, SetCookies: []SetCookie{{Name: s, Path: s}}}
		want, err := oldExchangeJSON(t, x)
		if err != nil {
			t.Fatal(err)
		}
		got, err := x.MarshalJSON()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s (%v)", s, got, want, err)
		}
	})
}

// TestExchangeJSONTimeBounds covers the times at the edges of the years encoding/json
// accepts, in zones that move them across a year boundary.
func TestExchangeJSONTimeBounds(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("E", 14*3600), time.FixedZone("W", -12*3600),
		time.FixedZone("odd", -(3600 + 17)), time.FixedZone("far", 24*3600), time.FixedZone("near", 24*3600-1)}
	edges := []time.Time{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}
	for _, e := range edges {
		for _, d := range []time.Duration{-36 * time.Hour, -13 * time.Hour, -time.Nanosecond, 0, time.Nanosecond, 13 * time.Hour, 36 * time.Hour} {
			for _, z := range zones {
				x := &Exchange{Start: e.Add(d).In(z)}
				want, wantErr := oldExchangeJSON(t, x)
				got, gotErr := x.MarshalJSON()
				if (wantErr != nil) != (gotErr != nil) || !bytes.Equal(got, want) {
					t.Fatalf("%v: got %s (%v), want %s (%v)", x.Start, got, gotErr, want, wantErr)
				}
			}
		}
	}
}
