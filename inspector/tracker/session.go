package tracker

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"sync/atomic"

	"crypto/sha256"
	"encoding/hex"
	"github.com/cespare/xxhash/v2"
	"path"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/codec"
	"github.com/sessionscope/sessionscope/inspector/framework"
)

// session is one tracked key. It is kept small on purpose (DESIGN: at most 512 bytes of
// metadata per session) because a staging Redis can hold a million of them; the
// decoded payload lives in the bounded cache, not here. It fits the 64-byte size
// class: the refs of a regeneration, which few sessions have, live beside the table
// (sessionTable.regen), and the framework is a two-byte index.
type session struct {
	key          string
	ref          [6]byte
	flags        uint8
	node         uint8 // index in Tracker.nodes; fits the padding before size
	size         int32
	fw           uint16 // index in Tracker.fws (fwOf): a pointer would take it past 64 bytes
	born         int64  // unix nanos; 0 when unknown (inventory)
	lastActivity int64
	ttlDeadline  int64 // unix nanos of the expected expiry; 0 unknown; -1 no TTL
	payload      *cachedPayload
}

const (
	flagAuthenticated uint8 = 1 << iota
	flagBornRegenerated
	flagFromInventory
	flagRegeneratedTo
	// flagPayloadRead: a payload of this session has been read, so flagAuthenticated is
	// what was seen, not merely unknown. A session found by the inventory, or whose
	// reads were skipped for budget, has no baseline until its first read.
	flagPayloadRead
	// flagMetaUnread: the inventory's phase one listed this session; its TTL and size
	// are not read yet (phase two fills them), so 0 means "not read", not "no TTL".
	flagMetaUnread
	// flagRemoved: the session left the table (removeSession), so an entry that
	// kept it (entry.sess) looks the key up again.
	flagRemoved
)

// metaUnread reports whether the session's TTL and size are still unknown: listed by
// the inventory, and neither filled by its phase two nor seen written, touched or read
// since (any of which sets them).
func (s *session) metaUnread() bool {
	return s.flags&flagMetaUnread != 0 && s.lastActivity == 0 && s.flags&flagPayloadRead == 0
}

func (t *Tracker) storeID(s *session) string {
	fw := t.fwOf(s)
	if fw.IDIncludesPrefix {
		return s.key
	}
	return s.key[len(fw.Prefix):]
}

// frameworkIndex numbers the frameworks sessions belong to (session.fw). Readers of
// the table on other goroutines load the list; the tracker goroutine, the only
// writer, replaces it whole when a framework is new (they all come from the matcher,
// listed up front, so that is rare or never).
type frameworkIndex struct {
	list atomic.Pointer[[]*framework.Framework]
	idx  map[*framework.Framework]uint16
}

// newFrameworkIndex numbers m's frameworks up front; m may be nil (a tracker that
// is only queried).
func newFrameworkIndex(m *framework.Matcher) *frameworkIndex {
	fi := &frameworkIndex{idx: map[*framework.Framework]uint16{}}
	list := []*framework.Framework{}
	fi.list.Store(&list)
	if m != nil {
		for _, fw := range m.Frameworks() {
			fi.index(fw)
		}
	}
	return fi
}

// index is fw's number, given on first sight. Tracker goroutine only.
func (fi *frameworkIndex) index(fw *framework.Framework) uint16 {
	if i, ok := fi.idx[fw]; ok {
		return i
	}
	old := *fi.list.Load()
	if len(old) > math.MaxUint16 {
		panic(fmt.Sprintf("tracker: more than %d frameworks", math.MaxUint16+1))
	}
	list := append(old[:len(old):len(old)], fw)
	fi.list.Store(&list)
	fi.idx[fw] = uint16(len(old))
	return uint16(len(old))
}

// fwIndex is fw's number for session.fw.
func (t *Tracker) fwIndex(fw *framework.Framework) uint16 { return t.fws.index(fw) }

// fwOf is s's framework.
func (t *Tracker) fwOf(s *session) *framework.Framework { return (*t.fws.list.Load())[s.fw] }

func (s *session) refString() string { return hex.EncodeToString(s.ref[:]) }

func hexRef(r [6]byte) string { return hex.EncodeToString(r[:]) }

func refOf(storeID string) [6]byte {
	sum := sha256.Sum256([]byte(storeID))
	var r [6]byte
	copy(r[:], sum[:6])
	return r
}

// cachedPayload is what sessionscope remembers of a session's last read payload, so
// that a later update can name changed fields and a delete or expiry can be described
// and matched to a regeneration.
type cachedPayload struct {
	key     string
	decoded *codec.Payload
	fields  map[string]uint64 // top-level field -> fingerprint, framework bookkeeping removed
	digest  uint64            // the raw bytes' digest
	// contentHash identifies the field set and values, to find a session written with
	// the same content without comparing against every recent write.
	contentHash uint64
	bytes       int64
	auth        bool
	// fw is the framework that wrote the payload: among rows sharing a key prefix
	// (express and fastify under sess:), the one whose payload shape this is.
	fw *framework.Framework
	// LRU links, most recent at the head.
	prev, next *cachedPayload
}

// comparable reports whether the payload has content that can identify it: an empty
// session (or one with only framework bookkeeping) matches any other empty session.
func (c *cachedPayload) comparable() bool { return c != nil && len(c.fields) > 0 }

// newCached builds the cache entry for a decoded payload.
func newCached(key string, p *codec.Payload, fw *framework.Framework, markers []string) *cachedPayload {
	c := &cachedPayload{key: key, decoded: p, digest: p.Digest, bytes: int64(p.Size) + 256, fw: fw}
	fps := p.FieldFingerprints()
	c.fields = make(map[string]uint64, len(fps))
	for name, fp := range fps {
		// An empty payload (PHP writes "" for an empty session) identifies nothing.
		if ignored(fw, name) || p.Size == 0 {
			continue
		}
		c.fields[name] = fp
		c.bytes += int64(len(name)) + 16
	}
	c.auth = hasAuthMarker(p, markers)
	c.contentHash = contentHash(c.fields)
	return c
}

func ignored(fw *framework.Framework, field string) bool {
	for _, f := range fw.IgnoreFields {
		if f == field {
			return true
		}
	}
	return false
}

// carries reports whether newer holds every field of older with the same value: the
// new session carries the old payload, the signature of a regeneration that moves data
// to a new id.
func carries(newer, older *cachedPayload) bool {
	if !newer.comparable() || !older.comparable() {
		return false
	}
	for name, fp := range older.fields {
		if newer.fields[name] != fp {
			return false
		}
	}
	return true
}

// changedFields lists the top-level fields that were added, removed or changed, and
// whether anything outside framework bookkeeping changed at all.
func changedFields(before, after *cachedPayload) (changed []string, added []string) {
	for name, fp := range after.fields {
		old, ok := before.fields[name]
		if !ok {
			added = append(added, name)
			changed = append(changed, name)
		} else if old != fp {
			changed = append(changed, name)
		}
	}
	for name := range before.fields {
		if _, ok := after.fields[name]; !ok {
			changed = append(changed, name)
		}
	}
	return changed, added
}

// DefaultAuthMarkers are payload fields that, once they hold an identifier, mean a
// user logged in: PHP apps, Django, Flask-Login, Laravel, passport, Rails' warden
// (Devise), Spring Security, Symfony's firewall token and the common plain "user"
// (a scalar, or a map naming the user: see hasAuthMarker).
var DefaultAuthMarkers = []string{"user_id", "_auth_user_id", "_user_id", "login_web_*", "passport.user",
	"warden.user.*.key", "SPRING_SECURITY_CONTEXT", "user", "_security_*", "userId"}

// hasAuthMarker reports whether any marker holds an identifier. A marker is a
// top-level field name, a glob over top-level names (login_web_*, warden.user.*.key),
// or a dotted path (passport.user). The name alone is not enough: an anonymous page
// that keeps preferences under "user" (user => [theme => dark]) has logged nobody in,
// so a marker counts only when it holds who logged in (see holdsIdentity).
func hasAuthMarker(p *codec.Payload, markers []string) bool {
	if p == nil {
		return false
	}
	for _, m := range markers {
		if strings.Contains(m, ".") && !strings.Contains(m, "*") {
			if v, ok := p.Lookup(strings.Split(m, ".")...); ok && holdsIdentity(v, 0) {
				return true
			}
		}
		// A dotted name may also be one top-level field: warden keeps the user under
		// "warden.user.user.key" in a Rails session.
		for _, f := range p.Fields {
			if ok, _ := path.Match(m, f.Key); ok && holdsIdentity(f.Value, 0) {
				return true
			}
		}
	}
	return false
}

// maxIdentityDepth bounds the search for an identifier inside a marker's value, which
// comes from the watched store and may nest deeply.
const maxIdentityDepth = 6

// holdsIdentity reports whether a marker's value names a user: a non-empty scalar (an
// id, a username, Symfony's serialized token), a list holding one (warden's [[7],
// "salt"]), a map or object with an id-like key (user => [id => 42], Spring's
// SecurityContextImpl down to its principal's username), or bytes that cannot be
// looked into (kept as a login, as before values were inspected). Null, false, "",
// 0 and maps of settings are not logins: logouts often leave user_id => null behind.
func holdsIdentity(v codec.Value, depth int) bool {
	if depth > maxIdentityDepth {
		return false
	}
	switch v.Kind {
	case codec.KindString:
		return v.Str != ""
	case codec.KindInt:
		return v.Int != 0
	case codec.KindFloat:
		return v.Float != 0
	case codec.KindBool:
		return v.Bool
	case codec.KindOpaque, codec.KindRef:
		return true
	case codec.KindList:
		for _, it := range v.Items {
			if holdsIdentity(it, depth+1) {
				return true
			}
		}
	case codec.KindMap, codec.KindObject:
		if v.Kind == codec.KindObject && v.Opaque != nil {
			return true // custom serialization (PHP C:): its content is not readable
		}
		for _, e := range v.Entries {
			if idLikeKey(e.Key) && identityValue(e.Value, depth+1) {
				return true
			}
		}
		// An identity nested deeper: Spring's context holds an authentication, which
		// holds the principal; Symfony's token holds its parent's data, which holds the
		// user object.
		for _, e := range v.Entries {
			switch e.Value.Kind {
			case codec.KindMap, codec.KindObject, codec.KindList:
				if holdsIdentity(e.Value, depth+1) {
					return true
				}
			}
		}
	}
	return false
}

// identityValue is the value of an id-like key: a scalar or a nested identity.
func identityValue(v codec.Value, depth int) bool {
	switch v.Kind {
	case codec.KindMap, codec.KindObject, codec.KindList:
		return holdsIdentity(v, depth)
	case codec.KindOpaque:
		return false // an id-like key over unreadable bytes names no one we can see
	}
	return holdsIdentity(v, depth)
}

// idLikeKeys are the keys under which apps and frameworks keep who is logged in.
var idLikeKeys = map[string]bool{"id": true, "uid": true, "userid": true, "user": true, "username": true,
	"name": true, "login": true, "email": true, "sub": true, "pk": true, "identifier": true,
	"principal": true, "accountid": true, "memberid": true, "customerid": true}

func idLikeKey(k string) bool {
	// A PHP object's private and protected properties are named "\x00Class\x00name"
	// and "\x00*\x00name".
	if i := strings.LastIndexByte(k, 0); i >= 0 {
		k = k[i+1:]
	}
	k = strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(k))
	return idLikeKeys[k]
}

func contentHash(fields map[string]uint64) uint64 {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	d := xxhash.New()
	var buf [8]byte
	for _, n := range names {
		_, _ = d.WriteString(n)
		binary.LittleEndian.PutUint64(buf[:], fields[n])
		_, _ = d.Write(buf[:])
	}
	return d.Sum64()
}
