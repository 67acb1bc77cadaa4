package redisstore

// keyIntern hands out one string per key name, so that every notification of a key
// carries the same string. That saves allocating the name per notification, and it
// makes the tracker's lookups cheap: its tables keep the string of the key's first
// notification, and Go compares two strings that share their bytes without reading
// them, where comparing two copies reads the table's copy from memory that a large
// table has long let out of the cache.
//
// It holds at most 2*internGeneration names: when the current generation is full it
// becomes the previous one and the one before is dropped, so keys in use stay (a hit
// in the previous generation is copied forward) and keys gone quiet are forgotten.
// A forgotten key only costs one allocation when it comes back.
type keyIntern struct {
	cur, prev map[string]string
}

// internGeneration bounds a generation: about 40 bytes of map per name, so the two
// generations stay under about 20 MB whatever the keyspace.
const internGeneration = 1 << 18

// get returns the string for name, which it does not retain.
func (k *keyIntern) get(name []byte) string {
	if s, ok := k.cur[string(name)]; ok {
		return s
	}
	s, ok := k.prev[string(name)]
	if !ok {
		s = string(name)
	}
	if k.cur == nil || len(k.cur) >= internGeneration {
		k.prev, k.cur = k.cur, make(map[string]string, min(internGeneration, 2*len(k.cur)+1024))
	}
	k.cur[s] = s
	return s
}
