// Package labstore is where the lab app keeps its sessions: the embedded memory
// backend by default, or a real Redis with --redis. Both store sessions exactly as a
// PHP app with phpredis does (key PHPREDIS_SESSION:<id>, PHP's default "php" serialize
// handler, SETEX on write, EXPIRE on a lazy write, DEL on destroy), so sessionscope
// watches the lab through the same code as a real app.
package labstore

import (
	"context"
	"errors"
	"time"
)

// KeyPrefix is phpredis' default session key prefix.
const KeyPrefix = "PHPREDIS_SESSION:"

// ErrNotFound is returned by Touch when the session does not exist (for that node).
// Load reports a missing session with ok=false instead.
var ErrNotFound = errors.New("lab session store: no such session")

// Session is one session's variables, like PHP's $_SESSION. Values are string, int64
// (int is accepted on Save; Load always returns int64), bool, or nil. Variables are
// written in sorted name order, so saving an unchanged session writes the same bytes
// and sessionscope reports "touched", not "updated". A name may not contain '|', which
// PHP's php serialize handler cannot encode either.
type Session map[string]any

// String returns the named variable when it is a string, "" otherwise.
func (s Session) String(name string) string {
	v, _ := s[name].(string)
	return v
}

// Int returns the named variable when it is an integer, 0 otherwise.
func (s Session) Int(name string) int64 {
	switch v := s[name].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	}
	return 0
}

// Bool returns the named variable when it is a bool, false otherwise.
func (s Session) Bool(name string) bool {
	v, _ := s[name].(bool)
	return v
}

// SessionStore is where the lab app keeps sessions, as phpredis would.
//
// node names the lab node (web server) doing the call. With "" every node shares one
// keyspace, as PHP servers sharing one Redis do; with a node name each node keeps its
// own sessions, as servers each with a local store do (the session-not-shared failure).
//
// Every write is one store command, so it shows up in sessionscope as one event after
// the correlation window (300 ms by default): two writes to one session inside the
// window merge into one event (a create then an update reads as "created").
type SessionStore interface {
	// Load reads the session id as seen by node. ok is false when it does not exist
	// there (never existed, destroyed, expired or evicted). It reads only: no event.
	Load(ctx context.Context, node, id string) (s Session, ok bool, err error)
	// Save writes the whole session with a TTL (SETEX), or without one when ttl <= 0
	// (SET: a session the server never expires). Events: created for a new id,
	// updated when the payload changed, touched when it did not.
	Save(ctx context.Context, node, id string, s Session, ttl time.Duration) error
	// Touch refreshes the TTL only (EXPIRE, phpredis' lazy write); ttl must be > 0.
	// Event: touched. It returns an error wrapping ErrNotFound when the session does
	// not exist for node.
	Touch(ctx context.Context, node, id string, ttl time.Duration) error
	// Destroy deletes the session (DEL, session_destroy). Event: destroyed. Destroying
	// a missing session is not an error and emits nothing.
	Destroy(ctx context.Context, node, id string) error
	// Key is the store key of a session id: "PHPREDIS_SESSION:" + id.
	Key(id string) string
	// Describe says where the sessions live, with secrets hidden.
	Describe() string
}

// Key is the phpredis key of a session id.
func Key(id string) string { return KeyPrefix + id }
