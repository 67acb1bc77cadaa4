package labstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
)

// Redis keeps the lab's sessions in a real Redis, as phpredis does: SETEX (PSETEX for
// a TTL that is not whole seconds; same keyspace events), SET without a TTL, EXPIRE,
// DEL, GET.
//
// Node-local stores cannot be separate keyspaces on one Redis, so they are emulated:
// the store remembers which node last saved each id, and Load, Touch and Destroy from
// another node (or from "", the shared view) act as if the session were absent. Two
// differences from the memory store remain, because one key cannot hold two values:
// a Save of an id that another node owns overwrites it (an "updated" event where the
// memory store shows a second "created" on the other node), and events carry the
// Redis address as node rather than the lab node's name.
type Redis struct {
	client  *redis.Client
	display string

	mu     sync.Mutex
	owners map[string]string // id -> node that last saved it, for node-local emulation
}

var _ SessionStore = (*Redis)(nil)

// NewRedis connects to the Redis at url (redis://, rediss:// or unix://). Its error
// wraps redisstore.ErrConnect and says what failed and what to do.
func NewRedis(ctx context.Context, url string) (*Redis, error) {
	display := redisstore.Redact(url)
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("lab session store: %w: malformed --redis URL %s: %v; use redis://[user:password@]host:port/db",
			redisstore.ErrConnect, display, err)
	}
	opts.PoolSize = 8
	opts.DialTimeout = 5 * time.Second
	client := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 6*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("lab session store: %w: %s", redisstore.ErrConnect, redisstore.ExplainConnError(display, opts.Addr, err))
	}
	return &Redis{client: client, display: display, owners: map[string]string{}}, nil
}

// Close releases the connections.
func (r *Redis) Close() error { return r.client.Close() }

// Key implements SessionStore.
func (r *Redis) Key(id string) string { return Key(id) }

// Describe implements SessionStore: the URL with its password hidden.
func (r *Redis) Describe() string { return "Redis at " + r.display + ", phpredis format" }

// visible reports whether node may see id under the node-local emulation.
func (r *Redis) visible(node, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	owner, owned := r.owners[id]
	return !owned || owner == node
}

// Load implements SessionStore.
func (r *Redis) Load(ctx context.Context, node, id string) (Session, bool, error) {
	if !r.visible(node, id) {
		return nil, false, nil
	}
	data, err := r.client.Get(ctx, Key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load session %s from %s: %w", Key(id), r.display, err)
	}
	s, err := DecodePHP(data)
	if err != nil {
		return nil, false, fmt.Errorf("load session %s from %s: %w", Key(id), r.display, err)
	}
	return s, true, nil
}

// Save implements SessionStore.
func (r *Redis) Save(ctx context.Context, node, id string, s Session, ttl time.Duration) error {
	data, err := encodeForSave(ctx, id, s)
	if err != nil {
		return err
	}
	var cmd redis.Cmder
	switch {
	case ttl <= 0:
		cmd = r.client.Set(ctx, Key(id), data, 0)
	case ttl%time.Second == 0:
		// SETEX itself, the command phpredis sends (go-redis deprecates its SetEx helper).
		cmd = r.client.Do(ctx, "SETEX", Key(id), int64(ttl/time.Second), data)
	default:
		// SETEX takes whole seconds; PSETEX keeps a short lab TTL exact.
		cmd = r.client.Do(ctx, "PSETEX", Key(id), ttl.Milliseconds(), data)
	}
	if err := cmd.Err(); err != nil {
		return fmt.Errorf("save session %s to %s: %w", Key(id), r.display, explainOOM(err))
	}
	r.mu.Lock()
	if node == "" {
		delete(r.owners, id)
	} else {
		r.owners[id] = node
	}
	r.mu.Unlock()
	return nil
}

// Touch implements SessionStore.
func (r *Redis) Touch(ctx context.Context, node, id string, ttl time.Duration) error {
	if err := checkTouch(ctx, id, ttl); err != nil {
		return err
	}
	if !r.visible(node, id) {
		return fmt.Errorf("touch session %s on node %q: %w", Key(id), node, ErrNotFound)
	}
	var cmd *redis.BoolCmd
	if ttl%time.Second == 0 {
		cmd = r.client.Expire(ctx, Key(id), ttl)
	} else {
		cmd = r.client.PExpire(ctx, Key(id), ttl)
	}
	ok, err := cmd.Result()
	if err != nil {
		return fmt.Errorf("touch session %s on %s: %w", Key(id), r.display, err)
	}
	if !ok {
		return fmt.Errorf("touch session %s on node %q: %w", Key(id), node, ErrNotFound)
	}
	return nil
}

// Destroy implements SessionStore.
func (r *Redis) Destroy(ctx context.Context, node, id string) error {
	if !r.visible(node, id) {
		return nil // another node's local session: this node has nothing to delete
	}
	if err := r.client.Del(ctx, Key(id)).Err(); err != nil {
		return fmt.Errorf("destroy session %s on %s: %w", Key(id), r.display, err)
	}
	r.mu.Lock()
	delete(r.owners, id)
	r.mu.Unlock()
	return nil
}

// fillBatch is how many SETEX a Fill pipeline carries: large enough that a few MB of
// sessions take a handful of round trips, small enough to keep each reply modest.
const fillBatch = 500

// FillTTL is the TTL of the sessions Fill writes: PHP's default gc_maxlifetime.
const FillTTL = 1440 * time.Second

// Fill writes n sessions with random ids, each padded to about size bytes of payload,
// with SETEX in pipelines: the load that pushes a Redis with maxmemory into eviction.
// Each is created in sessionscope and shows as a real PHP session (fill|i:N;pad|s:...).
func (r *Redis) Fill(ctx context.Context, n, size int) error {
	pad := strings.Repeat("x", max(size-24, 0))
	return r.fill(ctx, n, size, "sessions", func(p redis.Pipeliner, i int) error {
		data, err := EncodePHP(Session{"fill": i, "pad": pad})
		if err != nil {
			return err
		}
		return p.Do(ctx, "SETEX", Key(randomID()), int64(FillTTL/time.Second), data).Err()
	})
}

// CacheKeyPrefix is the prefix of FillCache's keys; it is no session prefix, so
// sessionscope ignores these keys and shows only the sessions they push out.
const CacheKeyPrefix = "lab:cache:"

// FillCache writes n cache entries of size bytes without a TTL (SET, as an app cache
// sharing the session Redis would), in pipelines. Under allkeys-lru they push the
// least recently used sessions out; the cache keys themselves raise no events.
func (r *Redis) FillCache(ctx context.Context, n, size int) error {
	val := strings.Repeat("c", size)
	return r.fill(ctx, n, size, "cache entries", func(p redis.Pipeliner, _ int) error {
		return p.Set(ctx, CacheKeyPrefix+randomID(), val, 0).Err()
	})
}

// fill queues n writes in pipelines of fillBatch.
func (r *Redis) fill(ctx context.Context, n, size int, what string, write func(p redis.Pipeliner, i int) error) error {
	for start := 0; start < n; start += fillBatch {
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := start; i < min(start+fillBatch, n); i++ {
				if err := write(p, i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("fill %s with %d %s of %d bytes (at %d): %w", r.display, n, what, size, start, explainOOM(err))
		}
	}
	return nil
}

// explainOOM adds what to do when Redis refuses writes over maxmemory.
func explainOOM(err error) error {
	if err != nil && strings.HasPrefix(err.Error(), "OOM") {
		return fmt.Errorf("%w (Redis is full and its maxmemory-policy does not evict: %s)", err, EvictionHint)
	}
	return err
}

// phpIDChars are the characters of PHP's default session ids
// (session.sid_bits_per_character=5).
const phpIDChars = "0123456789abcdefghijklmnopqrstuv"

// randomID makes a 26-character id like PHP's default, from crypto/rand (it never
// fails on supported platforms).
func randomID() string {
	var b [26]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = phpIDChars[b[i]&31]
	}
	return string(b[:])
}

// EvictionHint is how to start a Redis on which the eviction scenario can happen.
const EvictionHint = "start redis-server with --maxmemory 4mb --maxmemory-policy allkeys-lru"

// MemoryLimits are a Redis' memory settings, read without changing anything.
type MemoryLimits struct {
	MaxMemory  int64  // bytes; 0 means no limit
	Policy     string // maxmemory-policy, e.g. allkeys-lru, noeviction
	UsedMemory int64  // used_memory from INFO memory; 0 when unknown
}

// Evicts reports whether Redis will evict sessions under memory pressure: a limit is
// set and the policy evicts keys with a TTL (allkeys-* and volatile-* do; noeviction
// makes writes fail instead).
func (m MemoryLimits) Evicts() bool {
	return m.MaxMemory > 0 && (strings.HasPrefix(m.Policy, "allkeys-") || strings.HasPrefix(m.Policy, "volatile-"))
}

// Why says why eviction cannot happen and what to do; "" when Evicts.
func (m MemoryLimits) Why() string {
	switch {
	case m.Evicts():
		return ""
	case m.MaxMemory == 0:
		return "this Redis has no maxmemory limit, so it never evicts: " + EvictionHint
	default:
		return fmt.Sprintf("this Redis has maxmemory-policy %s, so a full Redis refuses writes instead of evicting: %s", m.Policy, EvictionHint)
	}
}

// MemoryLimits reads maxmemory and maxmemory-policy with CONFIG GET, or from INFO
// memory where CONFIG is forbidden (managed Redis). It never sets anything.
func (r *Redis) MemoryLimits(ctx context.Context) (MemoryLimits, error) {
	var m MemoryLimits
	info, infoErr := r.client.Info(ctx, "memory").Result()
	fromInfo := map[string]string{}
	if infoErr == nil {
		for _, line := range strings.Split(info, "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
				fromInfo[k] = v
			}
		}
		m.UsedMemory, _ = strconv.ParseInt(fromInfo["used_memory"], 10, 64)
	}
	cfg, cfgErr := r.client.ConfigGet(ctx, "maxmemory*").Result()
	if cfgErr == nil {
		fromInfo["maxmemory"], fromInfo["maxmemory_policy"] = cfg["maxmemory"], cfg["maxmemory-policy"]
	} else if infoErr != nil {
		return m, fmt.Errorf("read the memory settings of %s: CONFIG GET maxmemory: %v; INFO memory: %w", r.display, cfgErr, infoErr)
	}
	limit, err := strconv.ParseInt(fromInfo["maxmemory"], 10, 64)
	if err != nil || fromInfo["maxmemory_policy"] == "" {
		return m, fmt.Errorf("read the memory settings of %s: no maxmemory or maxmemory-policy in CONFIG GET or INFO memory", r.display)
	}
	m.MaxMemory, m.Policy = limit, fromInfo["maxmemory_policy"]
	return m, nil
}
