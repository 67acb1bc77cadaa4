package codec

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds on opening a cookie value. Values are attacker-controlled (a request's
// Cookie header, a HAR from anywhere), so every layer counts against one budget.
const (
	maxCookieValueBytes = 8 << 10  // bytes of a value looked at; the rest is ignored
	maxValueDepth       = 16       // encoding layers plus structure nesting
	maxValueSteps       = 256      // strings tried, over the whole value
	maxValueNodes       = 4096     // decoded JSON / PHP values, over the whole value
	maxInflatedBytes    = 64 << 10 // zlib output (Flask's compressed sessions)
	maxFoundKeys        = 16       // sensitive keys kept per value
	maxKeyShown         = 40       // characters of a key name shown
)

// KeyClass is what a sensitive key gives away.
type KeyClass uint8

const (
	// ClassToken: a bearer token (access_token, refresh_token, api_token).
	ClassToken KeyClass = 1 << iota
	// ClassAuthz: a role or privilege flag (role, is_admin, permissions, logged_in):
	// in a cookie the client can edit, it is whatever the client wants it to be.
	ClassAuthz
	// ClassCredential: a password, secret, API key or card number.
	ClassCredential
)

// CookieKey is one sensitive key inside a cookie value. It holds the key's name,
// never its value.
type CookieKey struct {
	Name   string   // as written in the value (a card number found under no key: "card number")
	Class  KeyClass // what it gives away
	Signed bool     // found under a signature (JWT, itsdangerous, s:, Rails --digest)
	Layers []string // how the value was opened to reach it, outermost first
}

// CookieContent is what opening a cookie value revealed.
type CookieContent struct {
	Keys      []CookieKey
	Encrypted bool // some layer is ciphertext (JWE, Laravel's iv/value/mac, Rails data--iv--tag)
}

// Class is the union of the keys' classes.
func (c CookieContent) Class() KeyClass {
	var k KeyClass
	for _, f := range c.Keys {
		k |= f.Class
	}
	return k
}

// DecodeCookieValue opens a cookie value the way an attacker holding the cookie
// would: URL-encoding, base64 and base64url (padded or not), JSON, PHP serialize(),
// form encoding, signed payloads (a JWT's header.payload.sig, Flask's itsdangerous
// payload.time.sig and its '.'-prefixed zlib form, express/cookie-parser s: and j:,
// Rails data--digest), layer within layer, and reports the keys that name credentials,
// tokens or privileges. It never returns values, never panics and does bounded work
// on any input (maxCookieValueBytes, maxValueDepth, maxValueSteps, maxValueNodes).
func DecodeCookieValue(v string) CookieContent {
	if len(v) > maxCookieValueBytes {
		v = v[:maxCookieValueBytes]
	}
	d := &valueDecoder{nodes: maxValueNodes}
	d.open(v, 0, nil, false)
	return d.out
}

type valueDecoder struct {
	steps int
	nodes int
	out   CookieContent
}

func (d *valueDecoder) full() bool {
	return d.steps >= maxValueSteps || len(d.out.Keys) >= maxFoundKeys || d.nodes <= 0
}

// withLayer returns layers plus one more, never sharing the caller's backing array.
func withLayer(layers []string, l string) []string {
	out := make([]string, len(layers), len(layers)+1)
	copy(out, layers)
	return append(out, l)
}

func (d *valueDecoder) found(name string, c KeyClass, layers []string, signed bool) {
	name = showKey(name)
	for _, k := range d.out.Keys {
		if k.Name == name && k.Class == c && k.Signed == signed {
			return
		}
	}
	if len(d.out.Keys) >= maxFoundKeys {
		return
	}
	if len(layers) == 0 {
		layers = []string{"plain text"}
	}
	d.out.Keys = append(d.out.Keys, CookieKey{Name: name, Class: c, Signed: signed, Layers: layers})
}

// open tries to read s as one of the encodings and recurses into what it holds.
func (d *valueDecoder) open(s string, depth int, layers []string, signed bool) {
	if depth > maxValueDepth || d.full() {
		return
	}
	d.steps++
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" {
		return
	}
	if isEmailPassword(s) {
		d.found("email:password", ClassCredential, layers, signed)
		return
	}
	switch {
	case s[0] == '{' || s[0] == '[':
		if d.structured(FormatJSON, s, depth, withLayer(layers, "JSON"), signed) {
			return
		}
	case strings.HasPrefix(s, "a:") && startsPHPArray(s):
		if d.structured(FormatPHPSerialize, s, depth, withLayer(layers, "PHP serialize()"), signed) {
			return
		}
	}
	if strings.IndexByte(s, '%') >= 0 {
		if u, err := url.QueryUnescape(s); err == nil && u != s {
			d.open(u, depth+1, withLayer(layers, "URL-encoded"), signed)
			return
		}
	}
	// cookie-parser: "j:" + JSON, "s:" + value + "." + HMAC (express-session's
	// connect.sid, res.cookie(name, value, {signed: true})).
	if rest, ok := strings.CutPrefix(s, "j:"); ok {
		d.open(rest, depth+1, withLayer(layers, "j: JSON cookie"), signed)
		return
	}
	if rest, ok := strings.CutPrefix(s, "s:"); ok {
		if i := strings.LastIndexByte(rest, '.'); i > 0 {
			rest = rest[:i]
		}
		d.open(rest, depth+1, withLayer(layers, "signed s:"), true)
		return
	}
	if d.dotted(s, depth, layers, signed) || d.rails(s, depth, layers, signed) {
		return
	}
	if b, how, ok := decodeBase64(s); ok {
		if inflated, ok := inflate(b); ok {
			b, how = inflated, how+" zlib"
		}
		if textual(b) {
			d.open(string(b), depth+1, withLayer(layers, how), signed)
		}
		return
	}
	d.form(s, depth, layers, signed)
}

// dotted reads the dot-separated signed forms: a JWT (JWS compact: header.payload.sig),
// a JWE (five parts: encrypted), Flask's itsdangerous payload.time.sig, with a
// leading '.' when the payload is zlib-compressed, and any base64 payload.sig.
func (d *valueDecoder) dotted(s string, depth int, layers []string, signed bool) bool {
	if strings.IndexByte(s, '.') < 0 {
		return false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 5 {
		return false
	}
	if len(parts) == 3 || len(parts) == 5 {
		if hdr, _, ok := decodeBase64(parts[0]); ok && hdr[0] == '{' {
			var h struct {
				Alg string `json:"alg"`
				Enc string `json:"enc"`
			}
			if json.Unmarshal(hdr, &h) == nil && h.Alg != "" {
				if len(parts) == 5 || h.Enc != "" {
					d.out.Encrypted = true
					return true
				}
				if payload, _, ok := decodeBase64(parts[1]); ok {
					jwtSigned := !strings.EqualFold(h.Alg, "none") && parts[2] != ""
					layer := "JWT"
					if !jwtSigned {
						layer = "JWT, alg none (unsigned)"
					}
					d.open(string(payload), depth+1, withLayer(layers, layer), signed || jwtSigned)
				}
				return true
			}
		}
	}
	if s[0] == '.' && len(parts) >= 3 { // itsdangerous, compressed
		if b, _, ok := decodeBase64(parts[1]); ok {
			if inflated, ok := inflate(b); ok && textual(inflated) {
				d.open(string(inflated), depth+1, withLayer(layers, "Flask session (zlib, signed)"), true)
				return true
			}
		}
		return false
	}
	if b, how, ok := decodeBase64(parts[0]); ok && textual(b) && (b[0] == '{' || b[0] == '[') {
		layer := how + " + signature"
		if len(parts) == 3 {
			layer = "Flask/itsdangerous " + how + " (signed)"
		}
		d.open(string(b), depth+1, withLayer(layers, layer), true)
		return true
	}
	return false
}

// rails reads ActiveSupport::MessageVerifier's data--digest (signed cookies) and
// recognises MessageEncryptor's data--iv--tag (encrypted cookies).
func (d *valueDecoder) rails(s string, depth int, layers []string, signed bool) bool {
	if !strings.Contains(s, "--") {
		return false
	}
	parts := strings.Split(s, "--")
	switch {
	case len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != "":
		if _, _, ok := decodeBase64(parts[0]); ok {
			d.out.Encrypted = true
			return true
		}
	case len(parts) == 2 && parts[0] != "" && len(parts[1]) >= 20:
		if b, _, ok := decodeBase64(parts[0]); ok && textual(b) {
			d.open(string(b), depth+1, withLayer(layers, "Rails signed cookie"), true)
			return true
		}
	}
	return false
}

// form reads name=value&name=value (and a single name=value).
func (d *valueDecoder) form(s string, depth int, layers []string, signed bool) {
	if strings.IndexByte(s, '=') <= 0 {
		return
	}
	pairs := strings.FieldsFunc(s, func(r rune) bool { return r == '&' })
	if len(pairs) == 0 || len(pairs) > 64 {
		return
	}
	for _, p := range pairs {
		k, _, ok := strings.Cut(p, "=")
		if !ok || !isWord(k) {
			return
		}
	}
	layers = withLayer(layers, "form-encoded")
	for _, p := range pairs {
		if d.full() {
			return
		}
		k, v, _ := strings.Cut(p, "=")
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		d.leaf(k, v, depth+1, layers, signed)
	}
}

// structured decodes JSON or PHP serialize() with the package's bounded decoders and
// walks the keys. It reports whether s was that format.
func (d *valueDecoder) structured(f Format, s string, depth int, layers []string, signed bool) bool {
	p, err := Decode(f, []byte(s), Limits{MaxDepth: maxValueDepth - depth + 1, MaxNodes: d.nodes})
	if err != nil || p == nil {
		return false
	}
	if encryptedEnvelope(p.Fields) {
		d.out.Encrypted = true
		return true
	}
	for i := range p.Fields {
		d.walk(p.Fields[i].Key, &p.Fields[i].Value, depth+1, layers, signed)
	}
	return true
}

// encryptedEnvelope recognises Laravel's encrypted cookie and session payload:
// {"iv":…,"value":…,"mac":…} (and "tag" for AEAD ciphers).
func encryptedEnvelope(fields []Entry) bool {
	var iv, value bool
	for _, e := range fields {
		switch e.Key {
		case "iv":
			iv = true
		case "value":
			value = true
		}
	}
	return iv && value
}

func (d *valueDecoder) walk(key string, v *Value, depth int, layers []string, signed bool) {
	if depth > maxValueDepth || d.full() {
		return
	}
	d.nodes--
	switch v.Kind {
	case KindMap, KindObject:
		if encryptedEnvelope(v.Entries) {
			d.out.Encrypted = true
			return
		}
		if c, ok := sensitiveKey(key); ok && c != ClassToken {
			// A map under "permissions" or "roles" is the privileges themselves.
			d.found(key, c, layers, signed)
		}
		for i := range v.Entries {
			d.walk(v.Entries[i].Key, &v.Entries[i].Value, depth+1, layers, signed)
		}
	case KindList:
		if c, ok := sensitiveKey(key); ok {
			d.found(key, c, layers, signed)
		}
		for i := range v.Items {
			if d.full() {
				return
			}
			d.walk("", &v.Items[i], depth+1, layers, signed)
		}
	case KindString:
		d.leaf(key, v.Str, depth, layers, signed)
	case KindInt:
		d.leaf(key, strconv.FormatInt(v.Int, 10), depth, layers, signed)
	case KindBool, KindFloat, KindNull:
		if c, ok := sensitiveKey(key); ok {
			d.found(key, c, layers, signed)
		}
	}
}

// leaf checks one key and its scalar value, then opens the value in case it is
// itself encoded (JSON in a string, base64 in a form field).
func (d *valueDecoder) leaf(key, value string, depth int, layers []string, signed bool) {
	if c, ok := sensitiveKey(key); ok {
		if strings.TrimSpace(value) != "" {
			d.found(key, c, layers, signed)
		}
		return
	}
	if isCardNumber(value) && !idLikeKey(key) {
		name := key
		if name == "" {
			name = "card number"
		} else {
			name += " (card number)"
		}
		d.found(name, ClassCredential, layers, signed)
		return
	}
	if len(value) >= 8 {
		d.open(value, depth+1, layers, signed)
	}
}

// sensitiveKey classifies a key by its name: lower-cased, with '_', '-', '.' and
// spaces removed. CSRF tokens are meant to be in cookies (the double-submit
// pattern; Laravel's and Flask-WTF's session _token / csrf_token) and are not
// reported.
func sensitiveKey(key string) (KeyClass, bool) {
	if key == "" || len(key) > 64 {
		return 0, false
	}
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteByte(c)
		}
	}
	k := b.String()
	if strings.Contains(k, "csrf") || strings.Contains(k, "xsrf") || k == "authenticitytoken" ||
		(k == "token" && strings.HasPrefix(key, "_")) {
		return 0, false
	}
	switch k {
	case "password", "passwd", "pwd", "pass", "passphrase", "secret", "apikey", "apisecret",
		"privatekey", "secretkey", "accesskey", "clientsecret", "creditcard", "cardnumber",
		"ccnumber", "cvv", "cvc", "pan":
		return ClassCredential, true
	case "role", "roles", "isadmin", "admin", "permissions", "permission", "perms", "privileges",
		"privilege", "issuperuser", "superuser", "isstaff", "isroot", "usertype", "accesslevel",
		"userlevel", "loggedin", "isloggedin", "authenticated", "isauthenticated", "authorized",
		"isauthorized", "authorities", "grants":
		return ClassAuthz, true
	case "token", "accesstoken", "refreshtoken", "authtoken", "apitoken", "idtoken", "bearertoken",
		"remembertoken", "oauthtoken", "jwt":
		return ClassToken, true
	}
	switch {
	case strings.HasSuffix(k, "password"), strings.HasSuffix(k, "passwd"), strings.HasSuffix(k, "secret"),
		strings.HasSuffix(k, "apikey"), strings.HasSuffix(k, "privatekey"):
		return ClassCredential, true
	case strings.HasSuffix(k, "accesstoken"), strings.HasSuffix(k, "refreshtoken"), strings.HasSuffix(k, "authtoken"),
		strings.HasSuffix(k, "apitoken"):
		return ClassToken, true
	case strings.HasSuffix(k, "roles"), strings.HasSuffix(k, "permissions"):
		return ClassAuthz, true
	}
	return 0, false
}

// idLikeKey: numeric ids and timestamps are not card numbers even when they pass Luhn.
func idLikeKey(key string) bool {
	k := strings.ToLower(key)
	return strings.HasSuffix(k, "id") || strings.Contains(k, "time") || strings.Contains(k, "date") ||
		strings.HasSuffix(k, "_at") || strings.HasSuffix(k, "ts")
}

// isCardNumber reports a payment card number: 13 to 19 digits (spaces or dashes
// allowed between groups) with a card network's prefix, passing the Luhn check.
func isCardNumber(s string) bool {
	if len(s) < 13 || len(s) > 23 {
		return false
	}
	var digits [19]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(digits) {
				return false
			}
			digits[n] = c - '0'
			n++
		case (c == ' ' || c == '-') && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	if n < 13 {
		return false
	}
	prefix := func(k int) int {
		v := 0
		for i := 0; i < k; i++ {
			v = v*10 + int(digits[i])
		}
		return v
	}
	brand := false
	switch {
	case digits[0] == 4: // Visa
		brand = n == 13 || n == 16 || n == 19
	case prefix(2) >= 51 && prefix(2) <= 55, prefix(4) >= 2221 && prefix(4) <= 2720: // Mastercard
		brand = n == 16
	case prefix(2) == 34 || prefix(2) == 37: // American Express
		brand = n == 15
	case prefix(4) == 6011 || prefix(2) == 65 || prefix(3) >= 644 && prefix(3) <= 649: // Discover
		brand = n >= 16
	case prefix(4) >= 3528 && prefix(4) <= 3589: // JCB
		brand = n >= 16
	case prefix(2) == 36 || prefix(2) == 38 || prefix(3) >= 300 && prefix(3) <= 305: // Diners Club
		brand = n == 14
	}
	if !brand {
		return false
	}
	sum := 0
	for i := 0; i < n; i++ {
		v := int(digits[n-1-i])
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// isEmailPassword recognises "user@example.com:secret", as apps store remembered
// logins (and HTTP Basic credentials look once base64 is removed). A suffix of
// digits only is a timestamp or an id, not a password.
func isEmailPassword(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at > 64 {
		return false
	}
	colon := strings.IndexByte(s[at:], ':')
	if colon < 0 {
		return false
	}
	colon += at
	domain, pw := s[at+1:colon], s[colon+1:]
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || len(domain)-dot-1 < 2 || pw == "" || len(pw) > 128 {
		return false
	}
	for i := 0; i < at; i++ {
		if c := s[i]; c <= ' ' || c == ':' || c == '/' || c >= 0x7f {
			return false
		}
	}
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	digitsOnly := true
	for i := 0; i < len(pw); i++ {
		c := pw[i]
		if c <= ' ' || c == 0x7f {
			return false
		}
		if c < '0' || c > '9' {
			digitsOnly = false
		}
	}
	return !digitsOnly
}

// decodeBase64 decodes standard or URL-safe base64, padded or not. It refuses
// strings shorter than 8 characters and anything outside the alphabets, and
// reports which alphabet matched.
func decodeBase64(s string) ([]byte, string, bool) {
	if len(s) < 8 || len(s) > maxCookieValueBytes*2 {
		return nil, "", false
	}
	std, urlSafe := false, false
	end := len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	if len(s)-end > 2 {
		return nil, "", false
	}
	for i := 0; i < end; i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
		case c == '+' || c == '/':
			std = true
		case c == '-' || c == '_':
			urlSafe = true
		default:
			return nil, "", false
		}
	}
	if std && urlSafe {
		return nil, "", false
	}
	raw := s[:end]
	enc, name := base64.RawStdEncoding, "base64"
	if urlSafe {
		enc, name = base64.RawURLEncoding, "base64url"
	}
	b, err := enc.DecodeString(raw)
	if err != nil || len(b) == 0 {
		return nil, "", false
	}
	return b, name, true
}

// inflate undoes zlib compression, bounded by maxInflatedBytes.
func inflate(b []byte) ([]byte, bool) {
	if len(b) < 2 || b[0] != 0x78 || (uint16(b[0])<<8|uint16(b[1]))%31 != 0 {
		return nil, false
	}
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, false
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxInflatedBytes))
	if err != nil && len(out) == 0 {
		return nil, false
	}
	return out, len(out) > 0
}

// textual reports bytes that read as text (valid UTF-8, no control characters but
// white space): what a layer of encoding over data looks like, unlike the random
// bytes of an id or a ciphertext.
func textual(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// startsPHPArray: `a:<count>:{`.
func startsPHPArray(s string) bool {
	i := 2
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i > 2 && i+1 < len(s) && s[i] == ':' && s[i+1] == '{'
}

func isWord(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// showKey makes a key printable and short: keys come from the cookie.
func showKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		if b.Len() >= maxKeyShown {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
