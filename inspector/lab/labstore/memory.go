package labstore

import (
	"context"
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/memory"
)

// Memory keeps the lab's sessions in the embedded memory backend, the store the lab's
// inspector watches when no Redis is named. A node name selects that node's own
// keyspace, so node-local sessions are truly separate: another node cannot see them.
type Memory struct {
	store *memory.Store
}

var _ SessionStore = (*Memory)(nil)

// NewMemory stores sessions in store.
func NewMemory(store *memory.Store) *Memory { return &Memory{store: store} }

// Key implements SessionStore.
func (m *Memory) Key(id string) string { return Key(id) }

// Describe implements SessionStore.
func (m *Memory) Describe() string { return m.store.Describe() + ", phpredis format" }

// Load implements SessionStore.
func (m *Memory) Load(ctx context.Context, node, id string) (Session, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("load session: %w", err)
	}
	data, ok := m.store.Get(node, Key(id))
	if !ok {
		return nil, false, nil
	}
	s, err := DecodePHP(data)
	if err != nil {
		return nil, false, fmt.Errorf("load session %s: %w", Key(id), err)
	}
	return s, true, nil
}

// Save implements SessionStore.
func (m *Memory) Save(ctx context.Context, node, id string, s Session, ttl time.Duration) error {
	data, err := encodeForSave(ctx, id, s)
	if err != nil {
		return err
	}
	m.store.Set(node, Key(id), data, ttl)
	return nil
}

// Touch implements SessionStore.
func (m *Memory) Touch(ctx context.Context, node, id string, ttl time.Duration) error {
	if err := checkTouch(ctx, id, ttl); err != nil {
		return err
	}
	if !m.store.Expire(node, Key(id), ttl) {
		return fmt.Errorf("touch session %s on node %q: %w", Key(id), node, ErrNotFound)
	}
	return nil
}

// Destroy implements SessionStore.
func (m *Memory) Destroy(ctx context.Context, node, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("destroy session: %w", err)
	}
	m.store.Del(node, Key(id))
	return nil
}

// encodeForSave checks a Save's arguments and encodes the session; both stores share
// it so they refuse the same sessions with the same words.
func encodeForSave(ctx context.Context, id string, s Session) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("save session: %w", err)
	}
	if id == "" {
		return nil, fmt.Errorf("save session: empty session id")
	}
	data, err := EncodePHP(s)
	if err != nil {
		return nil, fmt.Errorf("save session %s: %w", Key(id), err)
	}
	return data, nil
}

func checkTouch(ctx context.Context, id string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	if ttl <= 0 {
		// EXPIRE 0 would delete the session: that is Destroy, and it says so.
		return fmt.Errorf("touch session %s: ttl %s must be positive (use Destroy to delete)", Key(id), ttl)
	}
	return nil
}
