package tracker

import (
	"hash/maphash"
	"iter"
	"math/bits"
)

// sessionTable holds the tracked sessions, indexed by key and by ref. A million
// sessions in two Go maps (string -> pointer and [6]byte -> pointer) took about 98 MB,
// and the garbage collector walked all of it on every cycle of an inventory. Here
// each index is an open-addressing array of pointers (linear probing, at most 3/4
// full) beside one tag byte per slot: about 13 MB per index for a million sessions
// reserved ahead (any array length, not only powers of two), and a probe that reads
// tags compares a key or ref only when 7 hash bits agree.
// Deletion shifts the following entries back (no tombstones), so a table that
// churns stays as fast as a fresh one.
//
// The byRef index keeps the latest session added under a ref: two keys with one
// store id (two frameworks) share a ref, as they did in the map it replaces.
type sessionTable struct {
	seed  maphash.Seed // per table, so that keys chosen to collide cannot be prepared
	byKey tableIndex
	byRef tableIndex
	// regen holds the regeneration refs of the sessions that have any
	// (flagBornRegenerated, flagRegeneratedTo): kept in every session they would
	// take it past the 64-byte size class, 16 MB more for a million sessions.
	regen map[*session]regenRefs
}

// regenRefs are the other ends of a session's regenerations.
type regenRefs struct {
	from [6]byte // regenerated from (flagBornRegenerated)
	to   [6]byte // regenerated to while this key was kept (flagRegeneratedTo)
}

// tableIndex is one open-addressing index. An entry's home slot comes from the
// hash's high bits (multiply-shift, for any array length); its tag is 0x80 and the
// hash's low 7 bits, 0 for an empty slot.
type tableIndex struct {
	tags  []uint8
	slots []*session
	n     int
}

const tableMinSlots = 64

func newSessionTable() *sessionTable {
	return &sessionTable{seed: maphash.MakeSeed()}
}

func (t *sessionTable) keyHash(key string) uint64 { return maphash.String(t.seed, key) }

func (t *sessionTable) refHash(ref [6]byte) uint64 { return maphash.Bytes(t.seed, ref[:]) }

func tagOf(h uint64) uint8 { return uint8(h) | 0x80 }

// home is the slot where the entry of hash h belongs.
func (ix *tableIndex) home(h uint64) int {
	hi, _ := bits.Mul64(h, uint64(len(ix.slots)))
	return int(hi)
}

// next is the slot after i, wrapping around.
func (ix *tableIndex) next(i int) int {
	if i++; i == len(ix.slots) {
		return 0
	}
	return i
}

// dist is how many slots after from to lies, wrapping around.
func (ix *tableIndex) dist(from, to int) int {
	if to >= from {
		return to - from
	}
	return to + len(ix.slots) - from
}

// len is the number of sessions by key.
func (t *sessionTable) len() int { return t.byKey.n }

// get is the session under key, nil when none.
func (t *sessionTable) get(key string) *session {
	ix := &t.byKey
	if ix.n == 0 {
		return nil
	}
	h := t.keyHash(key)
	tag := tagOf(h)
	for i := ix.home(h); ; i = ix.next(i) {
		switch ix.tags[i] {
		case 0:
			return nil
		case tag:
			if s := ix.slots[i]; s.key == key {
				return s
			}
		}
	}
}

// getRef is the latest session added under ref, nil when none.
func (t *sessionTable) getRef(ref [6]byte) *session {
	ix := &t.byRef
	if ix.n == 0 {
		return nil
	}
	h := t.refHash(ref)
	tag := tagOf(h)
	for i := ix.home(h); ; i = ix.next(i) {
		switch ix.tags[i] {
		case 0:
			return nil
		case tag:
			if s := ix.slots[i]; s.ref == ref {
				return s
			}
		}
	}
}

// put adds s under its key and its ref, replacing any session held under either.
// A session's key and ref must not change while it is in the table.
func (t *sessionTable) put(s *session) {
	t.grow(&t.byKey, t.byKey.n+1, t.keyOf)
	if old := t.insert(&t.byKey, t.keyHash(s.key), s, func(o *session) bool { return o.key == s.key }); old != nil && old != s {
		delete(t.regen, old)
	}
	t.grow(&t.byRef, t.byRef.n+1, t.refOf)
	t.insert(&t.byRef, t.refHash(s.ref), s, func(o *session) bool { return o.ref == s.ref })
}

// remove takes s out of the table: whatever session its key holds, and its ref
// unless a later session holds that ref now.
func (t *sessionTable) remove(s *session) {
	h := t.keyHash(s.key)
	if i, ok := find(&t.byKey, h, func(o *session) bool { return o.key == s.key }); ok {
		delete(t.regen, t.byKey.slots[i])
		t.deleteAt(&t.byKey, i, t.keyOf)
	}
	if i, ok := find(&t.byRef, t.refHash(s.ref), func(o *session) bool { return o == s }); ok {
		t.deleteAt(&t.byRef, i, t.refOf)
	}
}

// reserve makes room for n sessions, so that an inventory heading for a million
// does not rehash every entry at each doubling.
func (t *sessionTable) reserve(n int) {
	n += n / 8 // n is a projection: a few more must not double the arrays
	t.grow(&t.byKey, n, t.keyOf)
	t.grow(&t.byRef, n, t.refOf)
}

// all yields every session by key. The session just yielded may be removed during
// the iteration (a resync ends the sessions it no longer finds); any other change
// to the table meanwhile may yield a session twice or not at all.
func (t *sessionTable) all() iter.Seq[*session] {
	return func(yield func(*session) bool) {
		ix := &t.byKey
		if ix.n == 0 {
			return
		}
		// Walk down from an empty slot: removing the current entry shifts back only
		// entries of its run that lie above it, which this walk has yielded already.
		start := 0
		for ix.tags[start] != 0 {
			start++
		}
		for k := 1; k <= len(ix.slots); k++ {
			i := start - k
			if i < 0 {
				i += len(ix.slots)
			}
			if ix.tags[i] != 0 && !yield(ix.slots[i]) {
				return
			}
		}
	}
}

func (t *sessionTable) keyOf(s *session) uint64 { return t.keyHash(s.key) }

func (t *sessionTable) refOf(s *session) uint64 { return t.refHash(s.ref) }

// insert puts s into ix at the slot of the entry same reports equal, which it
// returns, or a free one. ix has room (grow).
func (t *sessionTable) insert(ix *tableIndex, h uint64, s *session, same func(*session) bool) (replaced *session) {
	tag := tagOf(h)
	for i := ix.home(h); ; i = ix.next(i) {
		switch ix.tags[i] {
		case 0:
			ix.tags[i], ix.slots[i] = tag, s
			ix.n++
			return nil
		case tag:
			if old := ix.slots[i]; same(old) {
				ix.slots[i] = s
				return old
			}
		}
	}
}

// regenOf is s's regeneration refs, zero when it has none.
func (t *sessionTable) regenOf(s *session) regenRefs { return t.regen[s] }

// setRegen records s's regeneration refs; s is in the table.
func (t *sessionTable) setRegen(s *session, r regenRefs) {
	if t.regen == nil {
		t.regen = map[*session]regenRefs{}
	}
	t.regen[s] = r
}

// find is the slot of the entry same reports equal in ix.
func find(ix *tableIndex, h uint64, same func(*session) bool) (int, bool) {
	if ix.n == 0 {
		return 0, false
	}
	tag := tagOf(h)
	for i := ix.home(h); ; i = ix.next(i) {
		switch ix.tags[i] {
		case 0:
			return 0, false
		case tag:
			if same(ix.slots[i]) {
				return i, true
			}
		}
	}
}

// deleteAt empties slot i, then shifts back each following entry of the run that
// may sit at or before i (its home slot is not between i and where it is), so that
// every entry stays reachable from its home slot without tombstones.
func (t *sessionTable) deleteAt(ix *tableIndex, i int, hash func(*session) uint64) {
	for j := ix.next(i); ix.tags[j] != 0; j = ix.next(j) {
		if ix.dist(ix.home(hash(ix.slots[j])), j) < ix.dist(i, j) {
			continue // home lies after i: the entry must stay after it
		}
		ix.tags[i], ix.slots[i] = ix.tags[j], ix.slots[j]
		i = j
	}
	ix.tags[i], ix.slots[i] = 0, nil
	ix.n--
}

// grow makes room in ix for n entries at most 3/4 full: twice the slots when an
// insert fills it (amortized), or just enough for a reservation (reserve), rehashing
// into new arrays (the old ones are garbage at once, unlike a map copied beside its
// original).
func (t *sessionTable) grow(ix *tableIndex, n int, hash func(*session) uint64) {
	if n <= len(ix.slots)/4*3 {
		return
	}
	size := max(2*len(ix.slots), tableMinSlots)
	if n > size/4*3 {
		size = n/3*4 + 4
	}
	old := ix.slots
	ix.tags, ix.slots, ix.n = make([]uint8, size), make([]*session, size), 0
	for _, s := range old {
		if s == nil {
			continue
		}
		h := hash(s)
		i := ix.home(h)
		for ix.tags[i] != 0 {
			i = ix.next(i)
		}
		ix.tags[i], ix.slots[i] = tagOf(h), s
		ix.n++
	}
}
