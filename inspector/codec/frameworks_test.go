package codec

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeLaravel(t *testing.T) {
	laravelKeys := []string{"_token", "_previous", "_flash", "login_web_59ba36addc2b2f9401580f014c7f58ea4e30989d", "password_hash_web", "url"}
	tests := []struct {
		name      string
		file      string
		encrypted bool
	}{
		{"serialize(serialize(attributes))", "laravel/double_serialized.bin", false},
		{"serialize(json_encode(attributes))", "laravel/json_inner.bin", false},
		{"encrypted, wrapped by the cache store", "laravel/encrypted.bin", true},
		{"encrypted, stored as is", "laravel/encrypted_raw.bin", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := seed(t, tc.file)
			p, err := Decode(FormatLaravel, data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Format != FormatLaravel {
				t.Fatalf("Format = %s", p.Format)
			}
			if tc.encrypted {
				if p.Opaque == nil || p.Opaque.Type != FormatLaravelEncrypted || p.Opaque.Size != len(data) || len(p.Fields) != 0 {
					t.Fatalf("payload = %+v, want an opaque laravel_encrypted", p)
				}
				if fp := p.FieldFingerprints(); len(fp) != 1 || fp[""] != p.Digest {
					t.Fatalf("FieldFingerprints = %v", fp)
				}
				return
			}
			wantKeys(t, p.Fields, laravelKeys...)
			wantInt(t, field(t, p, "login_web_59ba36addc2b2f9401580f014c7f58ea4e30989d"), 17)
			if v, ok := p.Lookup("_previous", "url"); !ok || v.Str != "https://app.test/dashboard" {
				t.Fatalf("_previous.url = %s", v)
			}
			if Sniff(data) != FormatLaravel {
				t.Fatalf("Sniff = %s", Sniff(data))
			}
		})
	}
	t.Run("single layer", func(t *testing.T) {
		p, err := Decode(FormatLaravel, []byte(`a:1:{s:6:"_token";s:3:"abc";}`), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		wantString(t, field(t, p, "_token"), "abc")
	})
	for _, bad := range []string{`s:3:"abc";`, `s:9:"a:1:{i:0;";`, `i:5;`, `s:10:"a:1:{`} {
		t.Run("rejects "+bad, func(t *testing.T) {
			if p, err := Decode(FormatLaravel, []byte(bad), Limits{}); err == nil {
				t.Fatalf("decoded %+v", p)
			}
		})
	}
}

func TestDecodeSymfony(t *testing.T) {
	created := time.Unix(1763771000, 0).UTC()
	for _, file := range []string{"php", "php_serialize", "php_binary", "igbinary"} {
		t.Run(file, func(t *testing.T) {
			data := seed(t, "symfony/"+file+".bin")
			p, err := DecodeSymfony(data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Format != FormatSymfony {
				t.Fatalf("Format = %s", p.Format)
			}
			wantKeys(t, p.Fields, "_csrf/https-authenticate", "_security.last_username", "_security_main", "cart_id", "locale", "_symfony_flashes")
			wantString(t, field(t, p, "_security.last_username"), "ada@example.com")
			if v, ok := p.Lookup("_symfony_flashes", "success", "0"); !ok || v.Str != "Your changes were saved." {
				t.Fatalf("flash = %s", v)
			}
			m := p.Meta.Symfony
			if m == nil || !m.Created.Equal(created) || !m.Updated.Equal(time.Unix(1763772300, 0)) || m.Lifetime != 0 {
				t.Fatalf("Meta.Symfony = %+v", m)
			}
			if Sniff(data) != FormatSymfony {
				t.Fatalf("Sniff = %s", Sniff(data))
			}
		})
	}
	t.Run("no flashes, lifetime", func(t *testing.T) {
		p, err := Decode(FormatSymfony, seed(t, "symfony/php_no_flash.bin"), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		wantKeys(t, p.Fields, "_csrf/https-authenticate", "_security.last_username", "_security_main", "cart_id", "locale")
		if p.Meta.Symfony.Lifetime != 3600 {
			t.Fatalf("Lifetime = %d", p.Meta.Symfony.Lifetime)
		}
	})
	t.Run("other variables kept", func(t *testing.T) {
		p, err := Decode(FormatSymfony, []byte(`legacy|i:1;_sf2_attributes|a:1:{s:1:"a";i:2;}`), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		wantKeys(t, p.Fields, "a", "legacy")
		if p.Meta.Symfony != nil {
			t.Fatalf("Meta.Symfony = %+v without _sf2_meta", p.Meta.Symfony)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		if _, err := Decode(FormatSymfony, []byte(`_sf2_attributes|a:1:{`), Limits{}); !errors.Is(err, ErrTruncated) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDecodeExpress(t *testing.T) {
	t.Run("realistic", func(t *testing.T) {
		data := seed(t, "express/session.json")
		p, err := Decode(FormatExpress, data, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		wantKeys(t, p.Fields, "cookie", "csrfSecret", "passport", "views", "returnTo")
		wantString(t, mustLookup(t, p, "passport", "user"), "42")
		c := p.Meta.Express
		if c == nil || c.OriginalMaxAge == nil || *c.OriginalMaxAge != 86400000 ||
			c.Expires == nil || !c.Expires.Equal(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)) ||
			c.Secure == nil || *c.Secure || c.HTTPOnly == nil || !*c.HTTPOnly ||
			c.Path != "/" || c.SameSite != "lax" || c.Domain != "" {
			t.Fatalf("Meta.Express = %+v", c)
		}
		if Sniff(data) != FormatExpress {
			t.Fatalf("Sniff = %s", Sniff(data))
		}
	})
	t.Run("browser-session cookie", func(t *testing.T) {
		p, err := Decode(FormatExpress, seed(t, "express/session_browser_cookie.json"), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		c := p.Meta.Express
		if c.OriginalMaxAge != nil || c.Expires != nil || !*c.Secure || c.Domain != ".example.com" || c.Path != "/app" || c.SameSite != "Strict" {
			t.Fatalf("Meta.Express = %+v", c)
		}
	})
	t.Run("no cookie", func(t *testing.T) {
		p, err := Decode(FormatExpress, []byte(`{"a":1}`), Limits{})
		if err != nil || p.Meta.Express != nil {
			t.Fatalf("p = %+v, err = %v", p, err)
		}
		if Sniff([]byte(`{"a":1}`)) != FormatJSON {
			t.Fatal("an object without cookie sniffed as express")
		}
	})
	for _, bad := range []struct {
		in  string
		err error
	}{
		{`[1,2]`, ErrSyntax},
		{`{"cookie":`, ErrTruncated},
		{`{"a":1} {}`, ErrSyntax},
		{`{"a":tru}`, ErrSyntax},
	} {
		t.Run("rejects "+bad.in, func(t *testing.T) {
			if _, err := Decode(FormatExpress, []byte(bad.in), Limits{}); !errors.Is(err, bad.err) {
				t.Fatalf("err = %v, want %v", err, bad.err)
			}
		})
	}
}

func mustLookup(t *testing.T, p *Payload, path ...string) Value {
	t.Helper()
	v, ok := p.Lookup(path...)
	if !ok {
		t.Fatalf("Lookup(%v) found nothing", path)
	}
	return v
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		keys []string
		str  string // String() of the first field
	}{
		{"flask", string(seed(t, "json/flask.json")), []string{"_permanent", "user_id", "_flashes", "csrf_token"}, "true"},
		{"order kept", `{"z":1,"a":2,"m":3}`, []string{"z", "a", "m"}, "1"},
		{"big numbers", `{"n":123456789012345678901234567890,"f":1e400,"i":-9223372036854775808}`, []string{"n", "f", "i"}, "1.2345678901234568e+29"},
		{"duplicate keys kept", `{"a":1,"a":2}`, []string{"a", "a"}, "1"},
		{"array", `[1,"x"]`, []string{""}, `[1, "x"]`},
		{"escapes", `{"s":"\u00e9\n\ud83c\udf89"}`, []string{"s"}, `"é\n🎉"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(FormatJSON, []byte(tc.in), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			wantKeys(t, p.Fields, tc.keys...)
			if got := p.Fields[0].Value.String(); got != tc.str {
				t.Fatalf("first field = %s, want %s", got, tc.str)
			}
		})
	}
}

func TestDecodeMsgpack(t *testing.T) {
	data := seed(t, "msgpack/flask.bin")
	p, err := Decode(FormatMsgpack, data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	wantKeys(t, p.Fields, "_permanent", "user_id", "csrf_token", "cart", "_fresh", "login_at")
	wantInt(t, field(t, p, "user_id"), 42)
	if got := field(t, p, "cart").String(); got != `[{"sku": "A-1"}, 2.5, null, "\x00\x01\x02"]` {
		t.Fatalf("cart = %s", got)
	}
	wantString(t, field(t, p, "login_at"), "2026-11-22T01:00:00Z")
	if Sniff(data) != FormatMsgpack {
		t.Fatalf("Sniff = %s", Sniff(data))
	}

	bad := []struct {
		name string
		in   string
		err  error
	}{
		{"str32 longer than input", "\x81\xa1k\xdb\xff\xff\xff\xff", ErrTooLarge},
		{"bin32 longer than input", "\x81\xa1k\xc6\xff\xff\xff\xff", ErrTooLarge},
		{"array32 count", "\x81\xa1k\xdd\xff\xff\xff\xff", ErrTooLarge},
		{"map32 count", "\xdf\xff\xff\xff\xff", ErrTooLarge},
		{"ext32 length", "\x81\xa1k\xc9\xff\xff\xff\xff\x05", ErrTooLarge},
		{"truncated", "\x82\xa1k\x01", ErrTruncated},
		{"reserved code", "\x81\xa1k\xc1", ErrSyntax},
		{"trailing", "\x80\x00", ErrSyntax},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(FormatMsgpack, []byte(tc.in), Limits{}); !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
	t.Run("unknown extension is opaque", func(t *testing.T) {
		p, err := Decode(FormatMsgpack, []byte("\x81\xa1e\xd5\x07\x01\x02"), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if v := field(t, p, "e"); v.Kind != KindOpaque || v.Opaque.Type != FormatMsgpackExt || v.Opaque.Size != 2 {
			t.Fatalf("e = %+v", v)
		}
	})
}

func TestDecodeSpringHash(t *testing.T) {
	created := time.UnixMilli(1763771000123).UTC()
	accessed := time.UnixMilli(1763772300456).UTC()
	tests := []struct {
		name   string
		fields []HashField
	}{
		{"JDK serialization", []HashField{
			{"creationTime", seed(t, "spring/creationTime.bin")},
			{"lastAccessedTime", seed(t, "spring/lastAccessedTime.bin")},
			{"maxInactiveInterval", seed(t, "spring/maxInactiveInterval.bin")},
			{"sessionAttr:SPRING_SECURITY_CONTEXT", seed(t, "spring/sessionAttr_SPRING_SECURITY_CONTEXT.bin")},
			{"sessionAttr:cartSize", seed(t, "spring/sessionAttr_cartSize.bin")},
		}},
		{"Jackson JSON", []HashField{
			{"creationTime", []byte("1763771000123")},
			{"lastAccessedTime", []byte(`["java.lang.Long",1763772300456]`)},
			{"maxInactiveInterval", []byte("1800")},
			{"sessionAttr:SPRING_SECURITY_CONTEXT", []byte(`{"@class":"org.springframework.security.core.context.SecurityContextImpl","authentication":{"name":"ada"}}`)},
			{"sessionAttr:cartSize", []byte("3")},
		}},
		{"decimal text", []HashField{
			{"creationTime", []byte("1763771000123")},
			{"lastAccessedTime", []byte("1763772300456")},
			{"maxInactiveInterval", []byte(" 1800\n")},
			{"sessionAttr:SPRING_SECURITY_CONTEXT", []byte("not json: ada")},
			{"sessionAttr:cartSize", []byte("3")},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodeSpringHash(tc.fields, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			m := p.Meta.Spring
			if m == nil || !m.CreationTime.Equal(created) || !m.LastAccessedTime.Equal(accessed) || m.MaxInactiveInterval != 1800 {
				t.Fatalf("Meta.Spring = %+v", m)
			}
			wantKeys(t, p.Fields, "SPRING_SECURITY_CONTEXT", "cartSize")
			ctx := p.Fields[0].Value
			switch tc.name {
			case "JDK serialization":
				if v, ok := ctx.Lookup("user"); !ok || v.Str != "ada" {
					t.Fatalf("context = %s", ctx)
				}
			case "Jackson JSON":
				if v, ok := ctx.Lookup("authentication", "name"); !ok || v.Str != "ada" {
					t.Fatalf("context = %s", ctx)
				}
			default:
				if ctx.Kind != KindOpaque || ctx.Opaque.Type != FormatOpaque || !strings.Contains(ctx.Opaque.Preview, "not json: ada") {
					t.Fatalf("context = %+v", ctx)
				}
			}
			size := 0
			for _, f := range tc.fields {
				size += len(f.Name) + len(f.Value)
			}
			if p.Size != size || p.Format != FormatSpringHash {
				t.Fatalf("Size = %d (want %d), Format = %s", p.Size, size, p.Format)
			}
		})
	}
	t.Run("digest ignores field order", func(t *testing.T) {
		a := []HashField{{"creationTime", []byte("1")}, {"sessionAttr:x", []byte("2")}}
		b := []HashField{a[1], a[0]}
		pa, _ := DecodeSpringHash(a, Limits{})
		pb, _ := DecodeSpringHash(b, Limits{})
		if pa.Digest != pb.Digest {
			t.Fatal("digest depends on HGETALL order")
		}
	})
	t.Run("unreadable bookkeeping is kept as a field", func(t *testing.T) {
		p, err := DecodeSpringHash([]HashField{{"creationTime", []byte("\xac\xed\x00\x05sr\x00\x03Foo")}}, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		wantKeys(t, p.Fields, "creationTime")
		if p.Meta.Spring != nil {
			t.Fatalf("Meta.Spring = %+v", p.Meta.Spring)
		}
	})
	t.Run("Decode refuses the hash format", func(t *testing.T) {
		if _, err := Decode(FormatSpringHash, nil, Limits{}); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestJavaBoxedNumber(t *testing.T) {
	long := seed(t, "spring/creationTime.bin")
	if n, ok := javaBoxedNumber(long); !ok || n != 1763771000123 {
		t.Fatalf("Long = %d, %v", n, ok)
	}
	if n, ok := javaBoxedNumber(seed(t, "spring/maxInactiveInterval.bin")); !ok || n != 1800 {
		t.Fatalf("Integer = %d, %v", n, ok)
	}
	for i := 0; i < len(long); i++ {
		javaBoxedNumber(long[:i]) // must not panic on any prefix
	}
	if _, ok := javaBoxedNumber(seed(t, "spring/sessionAttr_SPRING_SECURITY_CONTEXT.bin")); ok {
		t.Fatal("a HashMap read as a number")
	}
}

// TestBinaryFormatsDecode: the Java-serialized and gob seeds, once shown as opaque
// bytes, decode into fields, whether the format is given or sniffed.
func TestBinaryFormatsDecode(t *testing.T) {
	tests := []struct {
		file string
		want Format
	}{
		{"spring/sessionAttr_SPRING_SECURITY_CONTEXT.bin", FormatJavaSerial},
		{"gob/redistore.bin", FormatGob},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data := seed(t, tc.file)
			for _, f := range []Format{FormatAuto, tc.want} {
				p, err := Decode(f, data, Limits{})
				if err != nil {
					t.Fatal(err)
				}
				if p.Format != tc.want || p.Opaque != nil || len(p.Fields) == 0 {
					t.Fatalf("Decode(%s) = %+v", f, p)
				}
			}
		})
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Format
	}{
		{"empty", nil, FormatOpaque},
		{"text", []byte("hello world"), FormatOpaque},
		{"broken JSON", []byte(`{"a":`), FormatOpaque},
		{"JSON scalar", []byte(`42`), FormatOpaque},
		{"JSON with leading space", []byte(" \n{\"a\":1}"), FormatJSON},
		{"php handler", seed(t, "php/login.bin"), FormatPHP},
		{"php_serialize", seed(t, "php_serialize/login.bin"), FormatPHPSerialize},
		{"php_binary", seed(t, "php_binary/login.bin"), FormatPHPBinary},
		{"php_binary PHP 5 undefined", seed(t, "php_binary/php5_undefined.bin"), FormatPHPBinary},
		{"igbinary", seed(t, "igbinary/objects.bin"), FormatIgbinary},
		{"igbinary header, broken body", []byte("\x00\x00\x00\x02\x14\x05"), FormatOpaque},
		{"laravel", seed(t, "laravel/double_serialized.bin"), FormatLaravel},
		{"symfony", seed(t, "symfony/php.bin"), FormatSymfony},
		{"express", seed(t, "express/session.json"), FormatExpress},
		{"msgpack", seed(t, "msgpack/flask.bin"), FormatMsgpack},
		{"msgpack empty map", []byte{0x80}, FormatMsgpack},
		{"pickle 4", seed(t, "pickle/django_p4.bin"), FormatPickle},
		{"pickle 0", seed(t, "pickle/django_p0.bin"), FormatPickle},
		{"pickle without STOP", []byte{0x80, 0x04, 0x95}, FormatOpaque},
		{"ruby", seed(t, "ruby_marshal/rails.bin"), FormatRubyMarshal},
		{"ruby rack-redis empty session", seed(t, "ruby_marshal/rack_redis_empty.bin"), FormatRubyMarshal},
		{"ruby header, broken body", []byte("\x04\x08{\x06I\"\x0a"), FormatOpaque},
		{"java", seed(t, "spring/creationTime.bin"), FormatJavaSerial},
		{"gob", seed(t, "gob/redistore.bin"), FormatGob},
		{"bar but not php", []byte("a|b"), FormatOpaque},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sniff(tc.in); got != tc.want {
				t.Fatalf("Sniff = %s, want %s", got, tc.want)
			}
			p, err := Decode(FormatAuto, tc.in, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Format != tc.want {
				t.Fatalf("Decode(auto).Format = %s, want %s", p.Format, tc.want)
			}
		})
	}
}
