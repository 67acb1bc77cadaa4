package codec

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Payloads written by Django 3.2's SessionBase.encode (Debian's python3-django
// 3.2.25): for {"cart": 3}, and for a logged-in session with cart,
// _auth_user_id "1", _auth_user_backend, _auth_user_hash and api_token, in
// the JSON serializer's signed form (the second one compressed, being long),
// the legacy sha1 form and PickleSerializer's signed form. djangoStored is
// what django-redis-sessions 0.6.2 stored in Redis after a login by the test
// app in traffictest/testdata/django (cart 3, the login fields, api_token
// "SECRET").
const (
	djangoJSONCart        = "eyJjYXJ0IjozfQ:1xaQLv:HZovJfeGhQG3r3fKViqfpk6X66kuiTyjAVLBvs8hZrE"
	djangoJSONLogin       = ".eJxVjbkOwjAQRP_FNbHs-KYEpaQBKppovXZIAMWQo0L8O46UJtVIO2_ffAnCMJG92JEa5qmt5zEOdRfInnCyuXnAZ-yXIjygvyeKqZ-GztMFoWs70lMK8XVY2Y2ghbHN3wxZtI0B5VnQDUODLPBowfkSRZBRNZoZbksnQHqFOpiMO8ZLIZU21mUpvLt6Snkh63IWt4_lxaU6nqtrYVBG8vsDbsxE2w:1xaQLv:INcj-VOpqnZktU__wTzyMSBVWBB_9hP8p6xDVcJA_bw"
	djangoLegacyCart      = "N2ZiNDA1ODA2OTIwNWRkMjVkZjZjZDg2NTE1Mzc3ZWM1NTdlZWRjNzp7ImNhcnQiOjN9"
	djangoLegacyLogin     = "ZTJhNzEzN2UzZjcxZDMxYjQ5YWYxOTE1NmJmYzhhMDA4YmJmMGRmYzp7ImNhcnQiOjMsIl9hdXRoX3VzZXJfaWQiOiIxIiwiX2F1dGhfdXNlcl9iYWNrZW5kIjoiZGphbmdvLmNvbnRyaWIuYXV0aC5iYWNrZW5kcy5Nb2RlbEJhY2tlbmQiLCJfYXV0aF91c2VyX2hhc2giOiIwYzBlOGY3YTViMGQ2ZjBjN2MwZDFlOGE5YjJjM2Q0ZTVmNjA3MTgyOTNhNGI1YzZkN2U4ZjkwMTIzNDU2Nzg5IiwiYXBpX3Rva2VuIjoidG9rLVpxODEtU0VDUkVULTdjNGUifQ=="
	djangoPickleCart      = "gAWVDQAAAAAAAAB9lIwEY2FydJRLA3Mu:1xaQLv:hFHDnIjo1Tt9MOVainQRdgSRIWb0l2abUr5uZyQhjYU"
	djangoPickleLogin     = ".eJxrYJ16mwECaqdo9LAkJxaVTPFm7uGNTywtyYgvLU4tis9MmdLDaDilRwhJLCkxOTs1DyihmZKVmJeer5ecn1dSlJmkB1KiB5Ut1vPNT0nNcYKp5UcyICOxOGNKj4NBskGqRZp5ommSQYpZmkGyebJBimGqRaJlklGycYpJqmmamYG5oYWRpXGiSZJpslmKOVC5pYGhkbGJqZm5heWUHs7Egsz4knygDVN6RIC0blShhaFusKtzkGuIrnmySeqUUj0AZrdOcg:1xaQLv:su4pTTkdoGn3GZJbxd9I4tBvJtVy_pZD9Z56GiDgeDc"
	djangoStored          = ".eJxVjcEOgjAQRP-lZ9NA2wXWo4ajF_XebNtFUEMNlJPx3y0JF67zZt58hacpiaM-CEtL6u0y82SHII6iFLvMkX_xuILwpPERpY9jmgYn14rc6CwvMfD7tHV3gp7mPq9dURfehYq1NlVnPBpTawDQ2JkGawWIRWANXKmGgVUJ1CkwSCUqFZCzlD6DTTE_ZN2tPV_bu_j9AXolP8Y:1xaQJo:gyxsIEFONL-AtmkhabkuvuAr1FK-n4DIDYVVDYZpLW0"
	djangoLoginBackend    = "django.contrib.auth.backends.ModelBackend"
	djangoLoginHash       = "0c0e8f7a5b0d6f0c7c0d1e8a9b2c3d4e5f60718293a4b5c6d7e8f90123456789"
	djangoLoginToken      = "tok-Zq81-SECRET-7c4e"
	djangoTimestampAndSig = ":1xaQLv:HZovJfeGhQG3r3fKViqfpk6X66kuiTyjAVLBvs8hZrE"
)

// djangoSeeds are the real payloads, for the fuzz target and the shape checks.
var djangoSeeds = []string{djangoJSONCart, djangoJSONLogin, djangoLegacyCart, djangoLegacyLogin,
	djangoPickleCart, djangoPickleLogin, djangoStored}

func TestDecodeDjangoSigned(t *testing.T) {
	type field struct{ key, value string }
	cart := []field{{"cart", "3"}}
	login := []field{{"cart", "3"}, {"_auth_user_id", `"1"`}, {"_auth_user_backend", `"` + djangoLoginBackend + `"`},
		{"_auth_user_hash", `"` + djangoLoginHash + `"`}, {"api_token", `"` + djangoLoginToken + `"`}}
	tests := []struct {
		name string
		in   string
		want []field
	}{
		{"json", djangoJSONCart, cart},
		{"json compressed", djangoJSONLogin, login},
		{"legacy", djangoLegacyCart, cart},
		{"legacy login", djangoLegacyLogin, login},
		{"pickle", djangoPickleCart, cart},
		{"pickle compressed", djangoPickleLogin, login},
		{"stored by django-redis-sessions", djangoStored, []field{{"cart", "3"}, {"_auth_user_id", `"1"`},
			{"_auth_user_backend", `"` + djangoLoginBackend + `"`}, {"_auth_user_hash", ""}, {"api_token", `"SECRET"`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !isDjangoSigned([]byte(tc.in)) {
				t.Fatal("isDjangoSigned = false")
			}
			p, err := decodeDjangoSigned([]byte(tc.in), newBudget(Limits{}))
			if err != nil {
				t.Fatal(err)
			}
			if p.Format != FormatDjangoSigned || p.Opaque != nil {
				t.Fatalf("Format %s, opaque %v", p.Format, p.Opaque)
			}
			if len(p.Fields) != len(tc.want) {
				t.Fatalf("%d fields, want %d: %+v", len(p.Fields), len(tc.want), p.Fields)
			}
			for i, w := range tc.want {
				got := p.Fields[i]
				if got.Key != w.key {
					t.Errorf("field %d is %q, want %q", i, got.Key, w.key)
				}
				s := got.Value.String()
				if got.Value.Kind == KindString {
					s = `"` + got.Value.Str + `"` // String() cuts long strings
				}
				if w.value != "" && s != w.value {
					t.Errorf("%s = %s, want %s", w.key, s, w.value)
				}
			}
		})
	}
}

// TestIsDjangoSignedShape: the shape check claims Django's text and nothing
// the other decoders' corpora hold, nor near misses.
func TestIsDjangoSignedShape(t *testing.T) {
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if isDjangoSigned(b) {
			t.Errorf("%s taken for a Django session: %.80q", path, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		"", ":", "::", "a::b", ":a:b", "a:b:", "eyJjYXJ0IjozfQ:1xaQLv", // a part missing
		"eyJjYXJ0IjozfQ:1xaQLv:HZov:JfeG",                                   // three colons
		"eyJjYXJ0Ijo zfQ" + djangoTimestampAndSig,                           // not base64url
		"eyJjYXJ0IjozfQ==" + djangoTimestampAndSig,                          // padded: Django strips it
		"eyJjYXJ0IjozfQ:1xa-Lv:HZovJfeGhQG3r3fKViqfpk6X66kuiTyjAVLBvs8hZrE", // timestamp not base62
		"eyJjYXJ0IjozfQ:1xaQLv:" + strings.Repeat("A", djangoMaxSignature+1),
		"csrf|s:16:\"a:b:c\";",                                                             // a PHP session with colons
		"eyJpdiI6IjEyMyJ9",                                                                 // Laravel's envelope, base64 without colons
		djangoLegacyCart[4:],                                                               // legacy, cut: not a multiple of 4
		base64.StdEncoding.EncodeToString([]byte(strings.Repeat("g", 40) + `:{"cart":3}`)), // hash not hex
		base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a", 39) + `:{"cart":3}`)), // hash too short
	} {
		if isDjangoSigned([]byte(in)) {
			t.Errorf("isDjangoSigned(%q) = true", in)
		}
	}
}

func TestDecodeDjangoSignedErrors(t *testing.T) {
	signed := func(raw []byte, compress bool) string {
		if compress {
			var buf bytes.Buffer
			zw, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
			_, _ = zw.Write(raw)
			_ = zw.Close()
			return "." + base64.RawURLEncoding.EncodeToString(buf.Bytes()) + djangoTimestampAndSig
		}
		return base64.RawURLEncoding.EncodeToString(raw) + djangoTimestampAndSig
	}
	bomb := signed([]byte(`{"a":`+strings.Repeat(" ", djangoMaxInflated)+`1}`), true)
	compressed := signed([]byte(`{"cart":3,"pad":"`+strings.Repeat("x", 200)+`"}`), true)
	value, _, _ := strings.Cut(compressed, ":")
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"no Django shape", `{"cart":3}`, ErrSyntax},
		{"not base64url", "eyJjYXJ0IjozfQAAa" + djangoTimestampAndSig, ErrSyntax},
		{"not JSON", signed([]byte("cart=3"), false), ErrSyntax},
		{"JSON cut", signed([]byte(`{"cart":`), false), ErrTruncated},
		{"pickle cut", signed([]byte("\x80\x05}\x94(\x8c\x04cart"), false), ErrTruncated},
		{"not zlib", "." + djangoJSONCart, ErrSyntax},
		{"zlib cut", value[:len(value)-12] + djangoTimestampAndSig, ErrTruncated},
		{"inflates past the bound", bomb, ErrTooLarge},
		{"nested too deeply", signed([]byte(`{"a":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`), false), ErrTooDeep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := decodeDjangoSigned([]byte(tc.in), newBudget(Limits{}))
			if !errors.Is(err, tc.want) || p != nil {
				t.Fatalf("got %v, %v; want %v", p, err, tc.want)
			}
		})
	}
	if p, err := decodeDjangoSigned([]byte(compressed), newBudget(Limits{})); err != nil || len(p.Fields) != 2 {
		t.Fatalf("the uncut compressed value: %v, %v", p, err)
	}
}
