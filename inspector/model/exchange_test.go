package model

import (
	"net/http"
	"testing"
	"time"
)

func TestSetCookieLine(t *testing.T) {
	expires := time.Date(2030, time.March, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	zero, week := 0, 604800
	cases := []struct {
		name string
		sc   SetCookie
		want string
	}{
		{name: "name and value only", sc: SetCookie{Name: "PHPSESSID", Value: "abc"}, want: "PHPSESSID=abc"},
		{name: "empty value", sc: SetCookie{Name: "sid"}, want: "sid="},
		{
			name: "every attribute in order",
			sc: SetCookie{Name: "sid", Value: "v", Domain: "example.test", Path: "/app", Expires: &expires,
				MaxAge: &week, Secure: true, HTTPOnly: true, SameSite: "None", Partitioned: true},
			want: "sid=v; Domain=example.test; Path=/app; Expires=Mon, 04 Mar 2030 04:06:07 GMT; Max-Age=604800; Secure; HttpOnly; SameSite=None; Partitioned",
		},
		{name: "max-age zero deletes", sc: SetCookie{Name: "sid", Value: "", MaxAge: &zero}, want: "sid=; Max-Age=0"},
		{name: "samesite lax", sc: SetCookie{Name: "sid", Value: "v", SameSite: "Lax"}, want: "sid=v; SameSite=Lax"},
		{name: "partitioned alone", sc: SetCookie{Name: "sid", Value: "v", Secure: true, Partitioned: true},
			want: "sid=v; Secure; Partitioned"},
		{name: "raw and verdict are not attributes",
			sc:   SetCookie{Name: "sid", Value: "v", Raw: "sid=other", Reason: "NotOnPath", SessionRef: "abcdef012345"},
			want: "sid=v"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.sc.Line()
			if got != tc.want {
				t.Fatalf("Line() = %q, want %q", got, tc.want)
			}
			// net/http must read back what was written, Expires included.
			parsed, err := http.ParseSetCookie(got)
			if err != nil {
				t.Fatalf("ParseSetCookie(%q): %v", got, err)
			}
			if parsed.Name != tc.sc.Name || parsed.Value != tc.sc.Value || parsed.Partitioned != tc.sc.Partitioned {
				t.Errorf("round trip = %+v, want the name, value and Partitioned of %+v", parsed, tc.sc)
			}
			if tc.sc.Expires != nil && !parsed.Expires.Equal(*tc.sc.Expires) {
				t.Errorf("Expires round trip = %v, want %v", parsed.Expires, *tc.sc.Expires)
			}
		})
	}
}
