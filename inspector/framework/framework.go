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
	// Secondary key shapes under the same prefix that are not sessions.
	excludeSuffixes []string
	excludePrefixes []string
}

// Builtin returns the framework table of DESIGN.md, verified against the frameworks'
// sources. Order does not matter: matching is by longest prefix.
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
		{Name: "spring", Variant: "Spring Session", Prefix: "spring:session:sessions:", Format: codec.FormatSpringHash, Type: KeyHash, Cookie: "SESSION",
			excludePrefixes: []string{"expires:"}},
		{Name: "django", Variant: "cache", Prefix: ":1:django.contrib.sessions.cache", Format: codec.FormatAuto, Cookie: "sessionid"},
		{Name: "django", Variant: "cached_db", Prefix: ":1:django.contrib.sessions.cached_db", Format: codec.FormatAuto, Cookie: "sessionid"},
		{Name: "rails", Variant: "redis-session-store", Prefix: "2::", Format: codec.FormatAuto, Cookie: "_app_session", IDIncludesPrefix: true},
		{Name: "rails", Variant: "redis-rack", Prefix: "rack:session:", Format: codec.FormatAuto, Cookie: "rack.session"},
		{Name: "flask", Variant: "Flask-Session", Prefix: "session:", Format: codec.FormatAuto, Cookie: "session"},
		{Name: "gorilla", Variant: "redistore", Prefix: "session_", Format: codec.FormatAuto, Cookie: "session"},
	}
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
	frameworks []*Framework // longest prefix first
}

// NewMatcher builds a matcher over the given frameworks.
func NewMatcher(fws []Framework) *Matcher {
	m := &Matcher{}
	for i := range fws {
		fw := fws[i]
		m.frameworks = append(m.frameworks, &fw)
	}
	sort.SliceStable(m.frameworks, func(i, j int) bool {
		return len(m.frameworks[i].Prefix) > len(m.frameworks[j].Prefix)
	})
	return m
}

// Frameworks lists the frameworks the matcher knows, longest prefix first.
func (m *Matcher) Frameworks() []*Framework { return m.frameworks }

// Match reports whether key is a session key, and whose.
func (m *Matcher) Match(key string) (Match, bool) {
	for _, fw := range m.frameworks {
		if !strings.HasPrefix(key, fw.Prefix) {
			continue
		}
		rest := key[len(fw.Prefix):]
		if rest == "" || !fw.isSession(rest) {
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

func (fw *Framework) isSession(rest string) bool {
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
	"opaque": codec.FormatOpaque,
}

// ParsePrefix parses a --prefix value, NAME=PREFIX[:FORMAT]. Prefixes often contain
// colons themselves ("myapp:sess:"), so only a last colon-separated part that names a
// known format is taken as the format. A NAME from the builtin table inherits that
// framework's format, key type and cookie.
func ParsePrefix(spec string) (Framework, error) {
	name, rest, ok := strings.Cut(spec, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || rest == "" {
		return Framework{}, fmt.Errorf("--prefix %q: want NAME=PREFIX[:FORMAT] (e.g. --prefix myapp=myapp:sess:)", spec)
	}
	fw := Framework{Name: name, Variant: "custom", Prefix: rest, Format: codec.FormatAuto}
	for _, b := range Builtin() {
		if b.Name == name {
			fw.Format, fw.Type, fw.Cookie, fw.IgnoreFields = b.Format, b.Type, b.Cookie, b.IgnoreFields
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
		return Framework{}, fmt.Errorf("--prefix %q: the prefix is empty; every key would match", spec)
	}
	return fw, nil
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
