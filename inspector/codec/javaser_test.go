package codec

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/inspectortest"
)

// The seeds under testdata/java were written by OpenJDK 17's own
// ObjectOutputStream from testdata/java/Gen.java (the Spring Security
// classes under testdata/java/src have the real classes' packages, names,
// fields and superclasses); SESSIONSCOPE_REGEN_JAVA=1 go test -run
// TestJavaSerialRegenerate regenerates them.

// javaTop decodes a seed whose top-level value is not a map or an object
// and returns that value, the single field "".
func javaTop(t *testing.T, name string) Value {
	t.Helper()
	p := decodeBoth(t, FormatJavaSerial, seed(t, "java/"+name+".ser"))
	if len(p.Fields) != 1 || p.Fields[0].Key != "" {
		t.Fatalf("%s: fields %v, want the single field \"\"", name, keys(p.Fields))
	}
	return p.Fields[0].Value
}

// javaSeeds returns every committed stream, testdata/java/*.ser (the
// directory also holds the Java sources that wrote them).
func javaSeeds(t testing.TB) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "java", "*.ser"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no seeds in testdata/java")
	}
	out := make([][]byte, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// lookup is Value.Lookup that fails the test when the path is missing.
func lookup(t *testing.T, v Value, path ...string) Value {
	t.Helper()
	got, ok := v.Lookup(path...)
	if !ok {
		t.Fatalf("%s has no %v", v, path)
	}
	return got
}

func TestJavaSerialScalars(t *testing.T) {
	tests := []struct {
		seed, rendered string
		kind           Kind
	}{
		// NUL is written as C0 80 and the emoji as two 3-byte surrogates.
		{"string", `"café a\x00b 😀"`, KindString},
		{"long", "1763771000123", KindInt},
		{"integer", "1800", KindInt},
		{"boolean", "true", KindBool},
		{"date", `"2025-11-22T00:23:20.123Z"`, KindString},
		{"enum", "com.example.shop.Status::SUSPENDED", KindObject},
		{"bytes", `"\x00\x01\x02\xff"`, KindString},
		{"ints", "[1, -2, 300000]", KindList},
		{"strings", `["a", null, "c"]`, KindList},
		// The second "ada" is a reference to the first String: its value again.
		{"arraylist", `["ada", "lovelace", "ada"]`, KindList},
		{"hashset", `["x", "y"]`, KindList},
		// BigDecimal as its plain text, BigInteger as a number while it fits
		// an int64; a Timestamp keeps its nanos and Date's data, named by Date.
		{"numbers", `["12.50", "-0.005", "-1180591620717411303424", 7, java.sql.Timestamp{"nanos": 123000000, "java.util.Date": "2025-11-22T00:23:20.000Z"}]`, KindList},
	}
	for _, tc := range tests {
		t.Run(tc.seed, func(t *testing.T) {
			v := javaTop(t, tc.seed)
			if v.Kind != tc.kind || v.String() != tc.rendered {
				t.Fatalf("%s = %s (kind %d), want %s (kind %d)", tc.seed, v, v.Kind, tc.rendered, tc.kind)
			}
		})
	}
}

func TestJavaSerialMaps(t *testing.T) {
	t.Run("hashmap", func(t *testing.T) {
		p := decodeBoth(t, FormatJavaSerial, seed(t, "java/hashmap.ser"))
		want := map[string]string{
			"user": `"ada"`, "visits": "42", "lastSeen": "1763771000123", "balance": "12.5", "ratio": "0.75",
			"admin": "false", "level": "-2", "flags": "5", "initial": `"A"`, "nothing": "null", "tags": `["a", "b"]`,
			// An enum constant met again is shown again, not as a reference.
			"status": "com.example.shop.Status::ACTIVE", "again": "com.example.shop.Status::ACTIVE",
		}
		if len(p.Fields) != len(want) {
			t.Fatalf("fields = %v", keys(p.Fields))
		}
		for k, w := range want {
			if got := field(t, p, k).String(); got != w {
				t.Errorf("%s = %s, want %s", k, got, w)
			}
		}
		if v := field(t, p, "balance"); v.Kind != KindFloat || v.Float != 12.5 {
			t.Errorf("balance = %+v", v)
		}
		if v := field(t, p, "admin"); v.Kind != KindBool || v.Bool {
			t.Errorf("admin = %+v", v)
		}
		if a, b := field(t, p, "status"), field(t, p, "again"); a.Fingerprint() != b.Fingerprint() {
			t.Error("the same enum constant fingerprints differently")
		}
	})
	t.Run("linkedhashmap keeps insertion order", func(t *testing.T) {
		p := decodeBoth(t, FormatJavaSerial, seed(t, "java/linkedhashmap.ser"))
		wantRendered(t, p, []struct{ key, rendered string }{{"zeta", "1"}, {"alpha", "2"}, {"mid", "3"}})
	})
	t.Run("treemap", func(t *testing.T) {
		p := decodeBoth(t, FormatJavaSerial, seed(t, "java/treemap.ser"))
		wantRendered(t, p, []struct{ key, rendered string }{{"a", `"one"`}, {"b", `"two"`}})
	})
}

func TestJavaSerialObjects(t *testing.T) {
	t.Run("every primitive type code", func(t *testing.T) {
		p := decodeBoth(t, FormatJavaSerial, seed(t, "java/object.ser"))
		// A top-level object's fields are the payload's fields: primitives
		// first, each group in name order, as ObjectOutputStream writes them.
		wantRendered(t, p, []struct{ key, rendered string }{
			{"aisle", "7"}, {"discount", "0.5"}, {"gift", "true"}, {"grade", `"é"`}, {"priceCents", "1999"},
			{"qty", "2"}, {"shelf", "-3"}, {"weightKg", "0.25"}, {"sku", `"SKU-1"`}, {"status", "com.example.shop.Status::ACTIVE"},
		})
	})
	t.Run("shared object", func(t *testing.T) {
		v := javaTop(t, "shared")
		if v.Kind != KindList || len(v.Items) != 2 {
			t.Fatalf("shared = %s", v)
		}
		if first := v.Items[0]; first.Kind != KindObject || first.Class != "com.example.shop.CartItem" || lookup(t, first, "qty").Int != 2 {
			t.Fatalf("first = %s", first)
		}
		// Handles: 0 ArrayList's descriptor, 1 the list, 2 CartItem's
		// descriptor, 3 and 4 its field type names, 5 the item.
		if second := v.Items[1]; second.Kind != KindRef || second.Int != 5 {
			t.Fatalf("second = %+v, want a reference to handle 5", second)
		}
	})
	t.Run("cycle of objects", func(t *testing.T) {
		p := decodeBoth(t, FormatJavaSerial, seed(t, "java/cycle.ser"))
		wantString(t, field(t, p, "name"), "a")
		next := field(t, p, "next")
		if next.Class != "com.example.shop.Node" || lookup(t, next, "name").Str != "b" {
			t.Fatalf("next = %s", next)
		}
		// b.next is a, still being read: a placeholder, not a copy.
		if back := lookup(t, next, "next"); back.Kind != KindRef || back.Int != 3 {
			t.Fatalf("b.next = %+v, want a reference to handle 3", back)
		}
	})
	t.Run("list holding itself", func(t *testing.T) {
		v := javaTop(t, "cycle_list")
		if v.String() != `["first", &1]` {
			t.Fatalf("cycle_list = %s", v)
		}
	})
	t.Run("custom writeObject data", func(t *testing.T) {
		p := decodeBoth(t, FormatJavaSerial, seed(t, "java/custom.ser"))
		wantKeys(t, p.Fields, "owner", "")
		wantString(t, field(t, p, "owner"), "ada")
		// writeInt(3) and writeUTF("login") share one block; the enum
		// written next splits it from writeLong(-1).
		custom := field(t, p, "")
		if custom.String() != "[<java_serialized 11 bytes>, com.example.shop.Status::SUSPENDED, <java_serialized 8 bytes>]" {
			t.Fatalf("custom data = %s", custom)
		}
		if o := custom.Items[0].Opaque; o.Type != FormatJavaSerial || !strings.Contains(o.Preview, "|......login|") {
			t.Fatalf("first block = %+v", o)
		}
	})
	t.Run("externalizable", func(t *testing.T) {
		p := decodeBoth(t, FormatJavaSerial, seed(t, "java/externalizable.ser"))
		wantKeys(t, p.Fields, "")
		if o := field(t, p, "").Opaque; o == nil || o.Size != 10 || !strings.Contains(o.Preview, "..dark....") {
			t.Fatalf("external data = %+v", o)
		}
	})
	t.Run("proxy", func(t *testing.T) {
		p := decodeBoth(t, FormatJavaSerial, seed(t, "java/proxy.ser"))
		wantKeys(t, p.Fields, "h")
		if h := field(t, p, "h"); h.String() != `com.example.shop.FixedHandler{"answer": "hi"}` {
			t.Fatalf("h = %s", h)
		}
		top, err := decodeJavaValue(seed(t, "java/proxy.ser"), newBudget(Limits{}))
		if err != nil || top.Class != "$Proxy<com.example.shop.Greeter>" {
			t.Fatalf("proxy = %s, %v", top, err)
		}
	})
}

// TestJavaSerialSecurityContext checks the tree of a Spring Security login
// against what Gen.java wrote: superclass fields first, the unmodifiable
// collections shown as what they wrap, and the password an Entry named
// password, where the dashboard's redaction finds it by name.
func TestJavaSerialSecurityContext(t *testing.T) {
	data := seed(t, "java/security_context.ser")
	p := decodeBoth(t, FormatJavaSerial, data)
	wantKeys(t, p.Fields, "authentication")
	auth := field(t, p, "authentication")
	if auth.Class != "org.springframework.security.authentication.UsernamePasswordAuthenticationToken" {
		t.Fatalf("authentication class = %q", auth.Class)
	}
	wantKeys(t, auth.Entries, "authenticated", "authorities", "details", "credentials", "principal")
	if v := lookup(t, auth, "authenticated"); v.Kind != KindBool || !v.Bool {
		t.Fatalf("authenticated = %s", v)
	}
	roles := lookup(t, auth, "authorities")
	if roles.Kind != KindList || len(roles.Items) != 2 {
		t.Fatalf("authorities = %s", roles)
	}
	for i, want := range []string{"ROLE_USER", "ROLE_ADMIN"} {
		r := roles.Items[i]
		if r.Class != "org.springframework.security.core.authority.SimpleGrantedAuthority" || lookup(t, r, "role").Str != want {
			t.Errorf("authority %d = %+v, want %s", i, r, want)
		}
	}
	if v := lookup(t, auth, "details", "remoteAddress"); v.Str != "127.0.0.1" {
		t.Fatalf("details.remoteAddress = %s", v)
	}
	if v := lookup(t, auth, "credentials"); v.Kind != KindNull {
		t.Fatalf("credentials = %s", v)
	}
	user := lookup(t, auth, "principal")
	if user.Class != "org.springframework.security.core.userdetails.User" {
		t.Fatalf("principal class = %q", user.Class)
	}
	wantKeys(t, user.Entries, "accountNonExpired", "accountNonLocked", "credentialsNonExpired", "enabled", "authorities", "password", "username")
	wantString(t, lookup(t, user, "username"), "ada")
	pw, ok := p.Lookup("authentication", "principal", "password")
	if !ok || pw.Kind != KindString || pw.Str != "s3cr3t-pw" {
		t.Fatalf("password = %s, %v", pw, ok)
	}
	// The User's TreeSet holds the token's two authority objects again,
	// sorted: references to them, not copies.
	if v := lookup(t, user, "authorities"); v.Kind != KindList || len(v.Items) != 2 || v.Items[0].Kind != KindRef || v.Items[1].Kind != KindRef {
		t.Fatalf("user authorities = %s", v)
	}

	t.Run("the user alone", func(t *testing.T) {
		p := decodeBoth(t, FormatJavaSerial, seed(t, "java/user.ser"))
		wantKeys(t, p.Fields, "accountNonExpired", "accountNonLocked", "credentialsNonExpired", "enabled", "authorities", "password", "username")
		wantString(t, field(t, p, "password"), "s3cr3t-pw")
		// Collections.unmodifiableSet(TreeSet) is shown as the set it wraps,
		// sorted as the TreeSet's comparator left it.
		roles := field(t, p, "authorities")
		if roles.Kind != KindList || len(roles.Items) != 2 {
			t.Fatalf("authorities = %s", roles)
		}
		for i, want := range []string{"ROLE_ADMIN", "ROLE_USER"} {
			if r := lookup(t, roles.Items[i], "role"); r.Str != want {
				t.Errorf("authority %d = %s, want %s", i, r, want)
			}
		}
	})
	t.Run("as a Spring Session attribute", func(t *testing.T) {
		sp, err := DecodeSpringHash([]HashField{
			{"creationTime", seed(t, "java/long.ser")},
			{"maxInactiveInterval", seed(t, "java/integer.ser")},
			{"sessionAttr:SPRING_SECURITY_CONTEXT", data},
			{"sessionAttr:cart", seed(t, "java/shared.ser")},
		}, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if sp.Meta.Spring == nil || sp.Meta.Spring.MaxInactiveInterval != 1800 || sp.Meta.Spring.CreationTime.UnixMilli() != 1763771000123 {
			t.Fatalf("Meta.Spring = %+v", sp.Meta.Spring)
		}
		wantKeys(t, sp.Fields, "SPRING_SECURITY_CONTEXT", "cart")
		if v, ok := sp.Lookup("SPRING_SECURITY_CONTEXT", "authentication", "principal", "username"); !ok || v.Str != "ada" {
			t.Fatalf("username = %s, %v", v, ok)
		}
		if v, ok := sp.Lookup("cart", "0", "sku"); !ok || v.Str != "SKU-1" {
			t.Fatalf("cart.0.sku = %s, %v", v, ok)
		}
	})
	t.Run("undecodable attribute stays opaque", func(t *testing.T) {
		cut := data[:len(data)-1]
		sp, err := DecodeSpringHash([]HashField{{"sessionAttr:SPRING_SECURITY_CONTEXT", cut}}, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if v := sp.Fields[0].Value; v.Kind != KindOpaque || v.Opaque.Type != FormatJavaSerial || v.Opaque.Size != len(cut) {
			t.Fatalf("attribute = %+v", v)
		}
	})
	t.Run("attribute over the limits fails the payload", func(t *testing.T) {
		_, err := DecodeSpringHash([]HashField{{"sessionAttr:SPRING_SECURITY_CONTEXT", data}}, Limits{MaxNodes: 20})
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
}

// Hand-made streams, for what ObjectOutputStream writes rarely or never.

func jsU16(n int) string { return string([]byte{byte(n >> 8), byte(n)}) }

func jsU32(n uint32) string { return string(binary.BigEndian.AppendUint32(nil, n)) }

func jsUTF(s string) string { return jsU16(len(s)) + s }

// jsStr is a new String object.
func jsStr(s string) string { return "t" + jsUTF(s) }

// jsRef is a back-reference to handle i.
func jsRef(i int) string { return "q" + jsU32(0x7e0000+uint32(i)) }

// jsDesc is a new class descriptor (serialVersionUID 1) with no annotation
// and the given superclass descriptor ("p" for none).
func jsDesc(name string, flags byte, super string, fields ...string) string {
	return "r" + jsUTF(name) + "\x00\x00\x00\x00\x00\x00\x00\x01" + string([]byte{flags}) + jsU16(len(fields)) + strings.Join(fields, "") + "x" + super
}

func jsStream(parts ...string) []byte { return []byte("\xac\xed\x00\x05" + strings.Join(parts, "")) }

func TestJavaSerialHandmade(t *testing.T) {
	objectField := "L" + jsUTF("v") + jsStr("Ljava/lang/Object;")
	tests := []struct {
		name string
		in   []byte
		want string // the top-level value as Value.String renders it
	}{
		{"long string", jsStream("|", "\x00\x00\x00\x00\x00\x00\x00\x03abc"), `"abc"`},
		{"reset before the object", jsStream("yy", jsStr("x")), `"x"`},
		{"class", jsStream("v", jsDesc("com.example.A", 2, "p")), "java.lang.Class::com.example.A"},
		{"class descriptor as an object", jsStream(jsDesc("com.example.A", 2, "p")), "java.lang.Class::com.example.A"},
		{"char array", jsStream("u", jsDesc("[C", 2, "p"), jsU32(2), "\x00h\x00\xe9"), `"hé"`},
		{"empty object array", jsStream("u", jsDesc("[Ljava.lang.Object;", 2, "p"), jsU32(0)), "[]"},
		{"long block of custom data", jsStream("s", jsDesc("com.example.W", 3, "p"), "z", jsU32(3), "abcx"),
			`com.example.W{"": <java_serialized 3 bytes>}`},
		{"custom data of a superclass", jsStream("s", jsDesc("com.example.Sub", 2, jsDesc("com.example.Base", 3, "p")), "w\x01Zx"),
			`com.example.Sub{"com.example.Base": <java_serialized 1 bytes>}`},
		{"object field holding a class descriptor reference", jsStream("s", jsDesc("com.example.O", 2, "p", objectField), jsRef(0)),
			"com.example.O{\"v\": java.lang.Class::com.example.O}"},
		{"Long not shaped like one stays an object", jsStream("s", jsDesc("java.lang.Long", 2, "p", "I"+jsUTF("value")), "\x00\x00\x00\x07"),
			`java.lang.Long{"value": 7}`},
		{"HashMap with a short size stays an object", jsStream("s", jsDesc("java.util.HashMap", 3, "p"), "w\x08\x00\x00\x00\x10\x00\x00\x00\x01x"),
			`java.util.HashMap{"": <java_serialized 8 bytes>}`},
		{"List.of", jsStream("s", jsDesc("java.util.CollSer", 3, "p", "I"+jsUTF("tag")), "\x00\x00\x00\x01", "w\x04\x00\x00\x00\x02", jsStr("a"), jsStr("b"), "x"),
			`["a", "b"]`},
		{"Map.of", jsStream("s", jsDesc("java.util.CollSer", 3, "p", "I"+jsUTF("tag")), "\x00\x00\x00\x03", "w\x04\x00\x00\x00\x02", jsStr("k"), jsStr("v"), "x"),
			`{"k": "v"}`},
		{"singleton list", jsStream("s", jsDesc("java.util.Collections$SingletonList", 2, "p", objectField[:1]+jsUTF("element")+objectField[4:]), jsStr("only")),
			`["only"]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			decodeBoth(t, FormatJavaSerial, tc.in)
			v, err := decodeJavaValue(tc.in, newBudget(Limits{}))
			if err != nil || v.String() != tc.want {
				t.Fatalf("value = %s, %v; want %s", v, err, tc.want)
			}
		})
	}
}

func TestJavaSerialMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"magic only", jsStream(), ErrTruncated},
		{"cut magic", []byte{0xac, 0xed}, ErrTruncated},
		{"other magic", []byte("\xac\xed\x00\x04t\x00\x00"), ErrSyntax},
		{"unknown type code", jsStream("\x42"), ErrSyntax},
		{"trailing data", jsStream(jsStr("x"), "p"), ErrSyntax},
		{"reference to an undefined handle", jsStream(jsRef(0)), ErrSyntax},
		{"exception", jsStream("{", jsStr("boom")), ErrSyntax},
		{"block data instead of an object", jsStream("w\x01a"), ErrSyntax},
		{"string past the end", jsStream("t\x00\x09abc"), ErrTooLarge},
		{"long string past the end", jsStream("|\x7f\xff\xff\xff\xff\xff\xff\xffabc"), ErrTooLarge},
		{"malformed modified UTF-8", jsStream("t\x00\x02\xc3("), ErrSyntax},
		{"array length past the end", jsStream("u", jsDesc("[I", 2, "p"), jsU32(1000), "\x00\x00\x00\x01"), ErrTooLarge},
		{"negative array length", jsStream("u", jsDesc("[I", 2, "p"), jsU32(0xffffffff)), ErrSyntax},
		{"array of an unknown type", jsStream("u", jsDesc("[Q", 2, "p"), jsU32(0)), ErrSyntax},
		{"array with a non-array class", jsStream("u", jsDesc("com.example.A", 2, "p"), jsU32(0)), ErrSyntax},
		{"object without a class", jsStream("sp"), ErrSyntax},
		{"serializable and externalizable", jsStream("s", jsDesc("com.example.A", 6, "p")), ErrSyntax},
		{"externalizable without block data", jsStream("s", jsDesc("com.example.A", 4, "p"), "\x00\x01"), ErrSyntax},
		{"unknown field type code", jsStream("s", jsDesc("com.example.A", 2, "p", "Q"+jsUTF("f")), "\x00"), ErrSyntax},
		{"field type name not a string", jsStream("s", jsDesc("com.example.A", 2, "p", "L"+jsUTF("f")+"p")), ErrSyntax},
		{"class descriptor refers to a string", jsStream(jsStr("x"), "s", jsRef(0)), ErrSyntax},
		{"field count past the end", jsStream("sr", jsUTF("A"), "\x00\x00\x00\x00\x00\x00\x00\x01\x02\xff\xff"), ErrTooLarge},
		{"block past the end", jsStream("s", jsDesc("com.example.W", 3, "p"), "z\x00\x00\x01\x00ab"), ErrTooLarge},
		{"negative block length", jsStream("s", jsDesc("com.example.W", 3, "p"), "z\xff\xff\xff\xffx"), ErrSyntax},
		{"reset inside an object", jsStream("s", jsDesc("com.example.O", 2, "p", "L"+jsUTF("v")+jsStr("Ljava/lang/Object;")), "y", jsStr("x")), ErrSyntax},
		// The superclass of A is A itself, through its own handle.
		{"superclass loop", jsStream("sr", jsUTF("A"), "\x00\x00\x00\x00\x00\x00\x00\x01\x02\x00\x00x", jsRef(0)), ErrTooDeep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(FormatJavaSerial, tc.in, Limits{})
			if p != nil || !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, %v; want error %v", p, err, tc.want)
			}
		})
	}
	t.Run("every truncation of every seed", func(t *testing.T) {
		for _, data := range javaSeeds(t) {
			for i := 0; i < len(data); i++ {
				p, err := Decode(FormatJavaSerial, data[:i], Limits{})
				if err == nil {
					t.Fatalf("prefix %d of %d decoded: %+v", i, len(data), p.Fields)
				}
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("prefix %d of %d: %v, want ErrTruncated", i, len(data), err)
				}
				if _, err := DecodeSpringHash([]HashField{{"sessionAttr:x", data[:i]}}, Limits{}); err != nil {
					t.Fatalf("spring attribute cut at %d: %v", i, err)
				}
			}
		}
	})
	t.Run("auto detection shows undecodable Java as opaque, still labelled Java", func(t *testing.T) {
		in := jsStream("t\x00\x09abc")
		p, err := Decode(FormatAuto, in, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Format != FormatOpaque || p.Opaque == nil || p.Opaque.Type != FormatJavaSerial || p.Opaque.Size != len(in) || Sniff(in) != FormatOpaque {
			t.Fatalf("Decode(auto) = %+v", p)
		}
	})
}

// jsNestedArrays is depth Object[] arrays, each holding the next.
func jsNestedArrays(depth int) []byte {
	var sb strings.Builder
	sb.WriteString("u" + jsDesc("[Ljava.lang.Object;", 2, "p") + jsU32(1))
	for i := 1; i < depth; i++ {
		sb.WriteString("u" + jsRef(0) + jsU32(1))
	}
	sb.WriteString("p")
	return jsStream(sb.String())
}

// jsSuperChain is an object whose class has depth-1 superclasses.
func jsSuperChain(depth int) []byte {
	super := "p"
	for i := 0; i < depth; i++ {
		super = jsDesc("com.example.C"+string(rune('a'+i)), 2, super)
	}
	return jsStream("s", super)
}

func TestJavaSerialLimits(t *testing.T) {
	lim := Limits{MaxDepth: 8, MaxNodes: 100}
	strs := make([]string, 60)
	for i := range strs {
		strs[i] = jsStr(string(rune('A' + i)))
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"nested arrays", jsNestedArrays(9), ErrTooDeep},
		{"long superclass chain", jsSuperChain(10), ErrTooDeep},
		{"too many elements", jsStream("u", jsDesc("[I", 2, "p"), jsU32(101), strings.Repeat("\x00\x00\x00\x01", 101)), ErrTooLarge},
		// Each String is a value and a handle.
		{"too many handles", jsStream("u", jsDesc("[Ljava.lang.String;", 2, "p"), jsU32(60), strings.Join(strs, "")), ErrTooLarge},
		{"too many blocks", jsStream("s", jsDesc("com.example.W", 3, "p"), strings.Repeat("w\x01a", 101), "x"), ErrTooLarge},
		// A 1000-byte String, then 10 references to it: 15 values each.
		{"copies of a long string", jsStream("u", jsDesc("[Ljava.lang.String;", 2, "p"), jsU32(11), jsStr(strings.Repeat("x", 1000)),
			strings.Repeat(jsRef(2), 10)), ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(FormatJavaSerial, tc.in, lim)
			if p != nil || !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, %v; want error %v", p, err, tc.want)
			}
			// Auto detection reports the limit rather than falling back to
			// opaque: the bytes were recognised.
			if _, err := Decode(FormatAuto, tc.in, lim); !isLimitError(err) {
				t.Fatalf("auto: %v, want a limit error", err)
			}
		})
	}
	t.Run("within the limits", func(t *testing.T) {
		for _, in := range [][]byte{jsNestedArrays(7), jsSuperChain(6)} {
			if _, err := Decode(FormatJavaSerial, in, lim); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("a lying count allocates nothing", func(t *testing.T) {
		in := jsStream("u", jsDesc("[Ljava.lang.Object;", 2, "p"), jsU32(0x7fffffff), "p")
		allocs := testing.AllocsPerRun(10, func() {
			if _, err := Decode(FormatJavaSerial, in, Limits{}); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v", err)
			}
		})
		if allocs > 40 {
			t.Fatalf("%v allocations", allocs)
		}
	})
}

// TestJavaSerialRegenerate rewrites testdata/java/*.ser from Gen.java with
// the installed JDK when SESSIONSCOPE_REGEN_JAVA=1. The classes are compiled
// into a temporary directory; only the .ser files are committed.
func TestJavaSerialRegenerate(t *testing.T) {
	if os.Getenv("SESSIONSCOPE_REGEN_JAVA") != "1" {
		t.Skip("set SESSIONSCOPE_REGEN_JAVA=1 to regenerate testdata/java with javac and java")
	}
	javac := inspectortest.Need(t, "javac", "apt-get install openjdk-17-jdk-headless")
	java := inspectortest.Need(t, "java", "apt-get install openjdk-17-jdk-headless")
	dir := filepath.Join("testdata", "java")
	sources := []string{filepath.Join(dir, "Gen.java")}
	err := filepath.WalkDir(filepath.Join(dir, "src"), func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".java") {
			sources = append(sources, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	classes := t.TempDir()
	if out, err := exec.Command(javac, append([]string{"-d", classes}, sources...)...).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	if out, err := exec.Command(java, "-cp", classes, "Gen", dir).CombinedOutput(); err != nil {
		t.Fatalf("java Gen: %v\n%s", err, out)
	}
	for _, data := range javaSeeds(t) {
		if _, err := Decode(FormatJavaSerial, data, Limits{}); err != nil {
			t.Errorf("regenerated seed does not decode: %v", err)
		}
	}
}
