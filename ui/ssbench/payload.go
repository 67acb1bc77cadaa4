package main

import (
	"fmt"
	"strconv"
)

// sessionPrefix is phpredis' default key prefix.
const sessionPrefix = "PHPREDIS_SESSION:"

// idLen is PHP's default session id length (session.sid_length=26, 5 bits per
// character: [0-9a-v]).
const idLen = 26

// keyLen is the length of every generated session key.
const keyLen = len(sessionPrefix) + idLen

const sidAlphabet = "0123456789abcdefghijklmnopqrstuv"

// mix is splitmix64's finaliser: a cheap bijection that spreads bits, used to derive
// ids and per-write values from counters without a shared random source.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// appendKey writes the key of session k (PHPREDIS_SESSION:<26 chars of [0-9a-v]>) into
// dst[:keyLen]. Distinct k give distinct ids (the first 12 characters are 60 bits of a
// bijection of k).
func appendKey(dst []byte, k uint64) {
	copy(dst, sessionPrefix)
	id := dst[len(sessionPrefix):keyLen]
	a, b, c := mix(k), mix(k^0x5bd1e995), mix(k+0x27d4eb2f165667c5)
	for i := 0; i < 12; i++ {
		id[i] = sidAlphabet[a&31]
		a >>= 5
	}
	for i := 12; i < 24; i++ {
		id[i] = sidAlphabet[b&31]
		b >>= 5
	}
	id[24] = sidAlphabet[c&31]
	id[25] = sidAlphabet[(c>>5)&31]
}

// payloadGen produces realistic PHP sessions (session.serialize_handler=php) of a
// fixed size. The template is built once; each write copies it and patches fixed-width
// slots (CSRF token, last activity, cart, last page), so every write to a session
// changes its content the way a real request does, at the cost of a memcpy.
type payloadGen struct {
	tmpl     []byte
	csrf     int    // 32 hex digits
	userID   int    // 7 digits
	userName int    // 7 digits inside the e-mail
	lastAct  int    // 10 digits
	sku      [3]int // 4 digits each
	qty      [3]int // 1 digit each
	page     int    // 6 digits
}

// newPayloadGen builds the template, padded with a prefs field to size bytes when size
// is larger than the bare session.
func newPayloadGen(size int) (*payloadGen, error) {
	g := &payloadGen{}
	var b []byte
	str := func(val string) int {
		b = append(b, "s:"...)
		b = strconv.AppendInt(b, int64(len(val)), 10)
		b = append(b, ":\""...)
		off := len(b)
		b = append(b, val...)
		b = append(b, "\";"...)
		return off
	}
	field := func(name string) {
		b = append(b, name...)
		b = append(b, '|')
	}
	field("csrf")
	g.csrf = str("00000000000000000000000000000000")
	field("user_id")
	b = append(b, "i:"...)
	g.userID = len(b)
	b = append(b, "1000000;"...)
	field("username")
	g.userName = str("u1000000@example.org") + 1
	field("logged_in")
	b = append(b, "b:1;"...)
	field("roles")
	b = append(b, "a:2:{i:0;"...)
	str("user")
	b = append(b, "i:1;"...)
	str("customer")
	b = append(b, '}')
	field("locale")
	str("en_GB")
	field("last_activity")
	b = append(b, "i:"...)
	g.lastAct = len(b)
	b = append(b, "1700000000;"...)
	field("cart")
	b = append(b, "a:3:{"...)
	for i := 0; i < 3; i++ {
		b = append(b, "i:"...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ";a:3:{"...)
		str("sku")
		g.sku[i] = str("SKU-1000") + 4
		str("qty")
		b = append(b, "i:"...)
		g.qty[i] = len(b)
		b = append(b, "1;"...)
		str("price")
		b = append(b, "d:19.99;}"...)
	}
	b = append(b, '}')
	field("last_page")
	g.page = str("/products/100000?ref=search") + len("/products/")
	field("flash")
	b = append(b, "a:0:{}"...)
	// prefs|s:N:"...";  pads the session to the requested size.
	const padName = "prefs|s::\"\";"
	if rest := size - len(b) - len(padName); rest > 0 {
		// The largest n whose "n" prefix plus n bytes fit the rest exactly (or one short).
		n := rest
		for n > 0 && n+len(strconv.Itoa(n)) > rest {
			n--
		}
		if n > 0 {
			const filler = "theme=dark&tz=Europe/Berlin&currency=EUR&newsletter=weekly&consent=analytics,ads&"
			pad := make([]byte, n)
			for i := range pad {
				pad[i] = filler[i%len(filler)]
			}
			field("prefs")
			str(string(pad))
		}
	}
	g.tmpl = b
	if len(b) < 64 {
		return nil, fmt.Errorf("payload template too small (%d bytes)", len(b))
	}
	return g, nil
}

// Size is the length of every generated payload.
func (g *payloadGen) Size() int { return len(g.tmpl) }

// fill writes the payload of write w to session k into dst[:g.Size()].
func (g *payloadGen) fill(dst []byte, w, k uint64) {
	copy(dst, g.tmpl)
	h := mix(w ^ 0xa0761d6478bd642f)
	h2 := mix(h)
	putHex(dst[g.csrf:g.csrf+16], h)
	putHex(dst[g.csrf+16:g.csrf+32], h2)
	uid := 1000000 + k%9000000
	putDigits(dst[g.userID:g.userID+7], uid)
	putDigits(dst[g.userName:g.userName+7], uid)
	putDigits(dst[g.lastAct:g.lastAct+10], 1700000000+w/1000)
	r := mix(h2)
	for i := 0; i < 3; i++ {
		putDigits(dst[g.sku[i]:g.sku[i]+4], 1000+(r%9000))
		r /= 9000
		dst[g.qty[i]] = byte('1' + r%9)
		r /= 9
	}
	putDigits(dst[g.page:g.page+6], 100000+(h%900000))
}

func putHex(dst []byte, v uint64) {
	const hexd = "0123456789abcdef"
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = hexd[v&15]
		v >>= 4
	}
}

// putDigits writes v right-aligned into dst, most significant digits dropped.
func putDigits(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}
