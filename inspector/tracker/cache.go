package tracker

// payloadCache bounds the decoded payloads kept for live sessions by bytes, evicting
// the least recently written: a session written lately is the one whose next update,
// regeneration or end needs its payload. It is owned by the tracker goroutine.
type payloadCache struct {
	limit      int64
	used       int64
	head, tail *cachedPayload
	sessions   *sessionTable
}

func newPayloadCache(limit int64, sessions *sessionTable) *payloadCache {
	return &payloadCache{limit: limit, sessions: sessions}
}

// put attaches c to s, replacing what s had, and evicts old entries past the limit.
func (pc *payloadCache) put(s *session, c *cachedPayload) {
	if s.payload != nil {
		pc.remove(s.payload)
	}
	s.payload = c
	pc.used += c.bytes
	c.next = pc.head
	if pc.head != nil {
		pc.head.prev = c
	}
	pc.head = c
	if pc.tail == nil {
		pc.tail = c
	}
	for pc.used > pc.limit && pc.tail != nil && pc.tail != c {
		victim := pc.tail
		pc.remove(victim)
		if owner := pc.sessions.get(victim.key); owner != nil && owner.payload == victim {
			owner.payload = nil
		}
	}
}

// drop removes the session's payload from the cache.
func (pc *payloadCache) drop(s *session) {
	if s.payload != nil {
		pc.remove(s.payload)
		s.payload = nil
	}
}

func (pc *payloadCache) remove(c *cachedPayload) {
	pc.unlink(c)
	pc.used -= c.bytes
}

func (pc *payloadCache) unlink(c *cachedPayload) {
	if c.prev != nil {
		c.prev.next = c.next
	} else if pc.head == c {
		pc.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else if pc.tail == c {
		pc.tail = c.prev
	}
	c.prev, c.next = nil, nil
}
