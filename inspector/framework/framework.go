// Package framework knows how web frameworks lay out their sessions in a store: the key
// prefixes, payload formats and cookie names of the DESIGN.md framework table, plus the
// custom prefixes a user adds with --prefix.
package framework

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/codec"
)

// KeyType is the Redis type a framework stores a session in.
type KeyType uint8

// Key types.
const (
	KeyString KeyType = iota
	KeyHash
)

// Framework is one row of the framework table.
type Framework struct {
	Name    string       // stable id shown in events: php, laravel, symfony, express, ...
	Variant string       // e.g. "laravel 11/12"
	Prefix  string       // key prefix
	Format  codec.Format // payload format; auto means sniff
	Type    KeyType
	Cookie  string // the session cookie's default name
	// IDIncludesPrefix marks stores whose id is the whole key remainder including a
	// version marker (Rails: the key holds "2::<sha256>", and that is the store id).
	IDIncludesPrefix bool
	// IgnoreFields are framework bookkeeping fields left out when comparing payloads
	// for regeneration (express rewrites its cookie object on every new session).
	IgnoreFields []string
	// Custom marks a row the user gave with --prefix. A custom row wins over a builtin
	// row with the same prefix: the user knows what their app writes.
	Custom bool
	// UUIDOnly restricts the row to keys whose remainder is a UUID. An empty --prefix
	// (koa-session's bare keys) would otherwise claim every key in the store.
	UUIDOnly bool
	// Secondary key shapes under the same prefix that are not sessions.
	excludeSuffixes []string
	excludePrefixes []string
}

// Builtin returns the framework table of DESIGN.md, verified against the frameworks'
// sources. Matching is by longest prefix. Two rows share a prefix where two libraries
// default to the same one (sess: for express-session and @fastify/session, session: for
// Flask-Session and django-redis-sessions): the first of them is what Match names, and
// Resolve lets the payload decide between them.
func Builtin() []Framework {
	return []Framework{
		{Name: "php", Variant: "phpredis", Prefix: "PHPREDIS_SESSION:", Format: codec.FormatAuto, Cookie: "PHPSESSID",
			excludeSuffixes: []string{"_LOCK"}},
		{Name: "laravel", Variant: "laravel 10", Prefix: "laravel_database_laravel_cache:", Format: codec.FormatLaravel, Cookie: "laravel_session",
			IgnoreFields: laravelBookkeeping},
		{Name: "laravel", Variant: "laravel 11/12", Prefix: "laravel_database_laravel_cache_", Format: codec.FormatLaravel, Cookie: "laravel_session",
			IgnoreFields: laravelBookkeeping},
		{Name: "laravel", Variant: "laravel 13", Prefix: "laravel-database-laravel-cache-", Format: codec.FormatLaravel, Cookie: "laravel_session",
			IgnoreFields: laravelBookkeeping},
		{Name: "symfony", Prefix: "sf_s", Format: codec.FormatSymfony, Cookie: "PHPSESSID"},
		{Name: "express", Variant: "express-session + connect-redis", Prefix: "sess:", Format: codec.FormatExpress, Cookie: "connect.sid",
			IgnoreFields: []string{"cookie"}},
		{Name: "fastify", Variant: "@fastify/session + connect-redis", Prefix: "sess:", Format: codec.FormatExpress, Cookie: "sessionId",
			IgnoreFields: []string{"cookie"}},
		{Name: "spring", Variant: "Spring Session", Prefix: "spring:session:sessions:", Format: codec.FormatSpringHash, Type: KeyHash, Cookie: "SESSION",
			excludePrefixes: []string{"expires:"}},
		{Name: "django", Variant: "cache", Prefix: ":1:django.contrib.sessions.cache", Format: codec.FormatAuto, Cookie: "sessionid"},
		{Name: "django", Variant: "cached_db", Prefix: ":1:django.contrib.sessions.cached_db", Format: codec.FormatAuto, Cookie: "sessionid"},
		{Name: "rails", Variant: "redis-session-store", Prefix: "2::", Format: codec.FormatAuto, Cookie: "_app_session", IDIncludesPrefix: true},
		{Name: "rails", Variant: "redis-rack", Prefix: "rack:session:", Format: codec.FormatAuto, Cookie: "rack.session"},
		{Name: "flask", Variant: "Flask-Session", Prefix: "session:", Format: codec.FormatAuto, Cookie: "session"},
		{Name: "django", Variant: "django-redis-sessions", Prefix: "session:", Format: codec.FormatAuto, Cookie: "sessionid"},
		{Name: "gorilla", Variant: "redistore", Prefix: "session_", Format: codec.FormatAuto, Cookie: "session"},
	}
}

// knownNames are framework names that --prefix may use without a builtin row of their
// own, with the format and cookie their stores use. koa-session with koa-redis keeps
// its JSON sessions under the bare external key (a UUID), which no prefix describes.
var knownNames = map[string]Framework{
	// koa-session rewrites _expire on every save and keeps _maxAge (and _session for
	// session-only cookies) beside the data: bookkeeping, not the session's content.
	"koa": {Format: codec.FormatJSON, Cookie: "koa.sess", IgnoreFields: []string{"_expire", "_maxAge", "_session"}},
}

// PHPFiles is the row for PHP's default files save handler (session.save_handler =
// files): one sess_<id> file per session, in the phpredis payload formats. It is not in
// Builtin, whose rows are Redis key prefixes: sessionscope adds it when it watches
// session files (--files), so a Redis key that happens to start with sess_ is not
// taken for a PHP session.
func PHPFiles() Framework {
	return Framework{Name: "php", Variant: "files", Prefix: "sess_", Format: codec.FormatAuto, Cookie: "PHPSESSID"}
}

// Match is a key recognised as a session.
type Match struct {
	Framework *Framework
	StoreID   string // the session id as the store knows it
}

// Matcher maps keys to frameworks by longest prefix.
type Matcher struct {
	frameworks []*Framework // longest prefix first; on a tie, custom rows first
	// alternatives are the builtin rows that share the prefix of the row Match names,
	// for Resolve; keyed by prefix.
	alternatives map[string][]*Framework
}

// NewMatcher builds a matcher over the given frameworks. A builtin row whose prefix a
// custom row (--prefix) also has is dropped: the user's row wins, and the keyspace is
// not scanned for the same prefix twice.
func NewMatcher(fws []Framework) *Matcher {
	m := &Matcher{alternatives: map[string][]*Framework{}}
	custom := map[string]bool{}
	for _, fw := range fws {
		if fw.Custom {
			custom[fw.Prefix] = true
		}
	}
	for i := range fws {
		fw := fws[i]
		if !fw.Custom && custom[fw.Prefix] {
			continue
		}
		m.frameworks = append(m.frameworks, &fw)
	}
	sort.SliceStable(m.frameworks, func(i, j int) bool {
		a, b := m.frameworks[i], m.frameworks[j]
		if len(a.Prefix) != len(b.Prefix) {
			return len(a.Prefix) > len(b.Prefix)
		}
		return a.Custom && !b.Custom
	})
	for _, fw := range m.frameworks {
		if !fw.Custom {
			m.alternatives[fw.Prefix] = append(m.alternatives[fw.Prefix], fw)
		}
	}
	return m
}

// Frameworks lists the frameworks the matcher knows, longest prefix first. Several
// rows may share a prefix (see Builtin).
func (m *Matcher) Frameworks() []*Framework { return m.frameworks }

// Match reports whether key is a session key, and whose. Where builtin rows share the
// key's prefix, Match names the first; Resolve decides between them once the payload
// is known.
func (m *Matcher) Match(key string) (Match, bool) {
	for _, fw := range m.frameworks {
		if !strings.HasPrefix(key, fw.Prefix) {
			continue
		}
		rest := key[len(fw.Prefix):]
		if rest == "" || !fw.isSession(rest) {
			if fw.UUIDOnly {
				continue // an empty prefix is a fallback, not a claim on the key
			}
			return Match{}, false
		}
		id := rest
		if fw.IDIncludesPrefix {
			id = key
		}
		return Match{Framework: fw, StoreID: id}, true
	}
	return Match{}, false
}

// Ambiguous reports whether more than one builtin row has the prefix of m, so that
// the payload must decide (Resolve).
func (mt *Matcher) Ambiguous(m Match) bool {
	return m.Framework != nil && !m.Framework.Custom && len(mt.alternatives[m.Framework.Prefix]) > 1
}

// Resolve picks, among the builtin rows that share m's prefix, the one whose payload
// shape fits payload; m is returned unchanged when it is not ambiguous or the payload
// does not decide. A custom row is never second-guessed.
func (mt *Matcher) Resolve(m Match, payload []byte) Match {
	if !mt.Ambiguous(m) {
		return m
	}
	name := payloadFramework(m.Framework.Prefix, payload)
	if name == "" {
		return m
	}
	for _, fw := range mt.alternatives[m.Framework.Prefix] {
		if fw.Name == name {
			return Match{Framework: fw, StoreID: m.StoreID}
		}
	}
	return m
}

func (fw *Framework) isSession(rest string) bool {
	if fw.UUIDOnly && !isUUID(rest) {
		return false
	}
	for _, s := range fw.excludeSuffixes {
		if strings.HasSuffix(rest, s) {
			return false
		}
	}
	for _, p := range fw.excludePrefixes {
		if strings.HasPrefix(rest, p) {
			return false
		}
	}
	return true
}

// Key returns the store key of a session id under this framework.
func (fw *Framework) Key(storeID string) string {
	if fw.IDIncludesPrefix {
		return storeID
	}
	return fw.Prefix + storeID
}

// ScanPattern is the SCAN MATCH glob for the framework's keys, with glob characters in
// the prefix escaped.
func (fw *Framework) ScanPattern() string {
	return GlobEscape(fw.Prefix) + "*"
}

// GlobEscape escapes Redis glob metacharacters.
func GlobEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// knownFormats are the formats a --prefix flag may name.
var knownFormats = map[string]codec.Format{
	"auto": codec.FormatAuto, "php": codec.FormatPHP, "php_serialize": codec.FormatPHPSerialize,
	"php_binary": codec.FormatPHPBinary, "igbinary": codec.FormatIgbinary, "laravel": codec.FormatLaravel,
	"symfony": codec.FormatSymfony, "json": codec.FormatJSON, "express": codec.FormatExpress,
	"msgpack": codec.FormatMsgpack, "spring_hash": codec.FormatSpringHash, "pickle": codec.FormatPickle,
	"ruby_marshal": codec.FormatRubyMarshal, "java_serialized": codec.FormatJavaSerial, "gob": codec.FormatGob,
	"django_signed": codec.FormatDjangoSigned,
	"opaque":        codec.FormatOpaque,
}

// ParsePrefix parses a --prefix value, NAME=PREFIX[:FORMAT]. Prefixes often contain
// colons themselves ("myapp:sess:"), so only a last colon-separated part that names a
// known format is taken as the format. A NAME from the builtin table inherits that
// framework's format, key type and cookie.
//
// An empty PREFIX (koa-session with koa-redis keeps sessions under bare UUIDs) is
// accepted only for a framework that stores JSON: the row then claims only keys that
// are UUIDs, and the caller should print Warning's line once.
func ParsePrefix(spec string) (Framework, error) {
	name, rest, ok := strings.Cut(spec, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Framework{}, fmt.Errorf("--prefix %q: want NAME=PREFIX[:FORMAT] (e.g. --prefix myapp=myapp:sess:)", spec)
	}
	fw := Framework{Name: name, Variant: "custom", Prefix: rest, Format: codec.FormatAuto, Custom: true}
	if k, ok := knownNames[name]; ok {
		fw.Format, fw.Cookie, fw.IgnoreFields = k.Format, k.Cookie, k.IgnoreFields
	}
	builtin := false
	for _, b := range Builtin() {
		if b.Name == name {
			fw.Format, fw.Type, fw.Cookie, fw.IgnoreFields = b.Format, b.Type, b.Cookie, b.IgnoreFields
			builtin = true
			break
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		if f, ok := knownFormats[rest[i+1:]]; ok {
			fw.Prefix, fw.Format = rest[:i], f
			if f == codec.FormatSpringHash {
				fw.Type = KeyHash
			}
		}
	}
	if fw.Prefix == "" {
		switch {
		case fw.Format == codec.FormatJSON, fw.Format == codec.FormatExpress:
		case fw.Format == codec.FormatAuto && !builtin:
		default:
			return Framework{}, fmt.Errorf("--prefix %q: an empty prefix is only for JSON sessions under bare UUID keys (e.g. --prefix koa=)", spec)
		}
		if fw.Format == codec.FormatAuto {
			fw.Format = codec.FormatJSON
		}
		fw.UUIDOnly = true
	}
	return fw, nil
}

// Warning is the one line to show the user about a parsed --prefix row, or "".
func (fw *Framework) Warning() string {
	if fw.UUIDOnly && fw.Prefix == "" {
		return fmt.Sprintf("--prefix %s= has no prefix: every key that is a UUID and under no other prefix is read as a %s session, so other UUID keys in this database would show up as sessions too", fw.Name, fw.Name)
	}
	return ""
}

// FormatNames lists the formats --prefix accepts, for help text.
func FormatNames() []string {
	names := make([]string, 0, len(knownFormats))
	for n := range knownFormats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// laravelBookkeeping are the fields Laravel's session keeps for itself on every
// request: the previous URL and the flash bags. They change with navigation and say
// nothing about whose session it is.
var laravelBookkeeping = []string{"_previous", "_flash"}
