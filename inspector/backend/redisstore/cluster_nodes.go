package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend"
)

// ErrNotAMaster is returned by Open when --nodes names an address that is not a
// master of the cluster: a usage error, fixed by naming one that is.
var ErrNotAMaster = errors.New("not a master of the cluster")

// notAMasterError is an ErrNotAMaster whose text is its own sentence, for a refusal
// that ErrNotAMaster's words would only repeat.
type notAMasterError string

func (e notAMasterError) Error() string      { return string(e) }
func (notAMasterError) Is(target error) bool { return target == ErrNotAMaster }

// A process given Config.Nodes follows only those masters: it subscribes to their
// keyevents and inventories their keys, and leaves the other masters to other
// processes (split a cluster bigger than one process can follow; see docs/scaling.md).
//
// Slot migrations between two followed masters are followed as without --nodes: one
// session, its node changes. A session that migrates from a followed master to one
// this process does not follow is seen here as a del without its restore: the
// tracker asks where the key is now (a Locate read, answered by locate) and, when
// another master holds it, drops it from the table without an end; the process that
// follows the target sees a restore without its del and adds it without a birth
// (backend.PartialFollower, tracker's handOver and arrive). A failover that promotes a replica
// under a new address drops the promoted master from this process unless --nodes
// names that address too (name replicas along with their masters to keep them).

// FollowsPart implements backend.PartialFollower: --nodes on a cluster.
func (s *Store) FollowsPart() bool { return s.cluster != nil && len(s.cfg.Nodes) > 0 }

// locate answers the Locate reads reqs[i] for i in idx: each key's PTTL on the
// master that holds it, and that master's address. The cluster client would follow a
// redirect without saying where it led, so each key's PTTL goes to the master of its
// slot in the client's slot map, one pipeline per master; a MOVED (the slot moved
// away since the map was read) or an ASK (the slot is being migrated, and the key is
// not here any more) names the master asked next, with ASKING first in both cases:
// while a reshard assigns the slot, master by master, its new master may still be
// importing it and send a plain request back where it came from, which a cluster
// client would follow in a loop until it gave up.
func (s *Store) locate(ctx context.Context, reqs []backend.ReadRequest, out []backend.ReadResult, idx []int) {
	cc, ok := s.client.(*redis.ClusterClient)
	if !ok {
		for _, i := range idx {
			out[i].Err = fmt.Errorf("redis backend: locate %q: not a cluster", reqs[i].Key)
		}
		return
	}
	byOwner := map[*redis.Client][]int{}
	for _, i := range idx {
		owner, err := cc.MasterForKey(ctx, reqs[i].Key)
		if err != nil {
			out[i].Err = fmt.Errorf("redis backend: locate %q: the master of its slot: %w", reqs[i].Key, err)
			continue
		}
		byOwner[owner] = append(byOwner[owner], i)
	}
	for owner, is := range byOwner {
		cmds := make([]*redis.DurationCmd, len(is))
		_, _ = owner.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j, i := range is {
				cmds[j] = p.PTTL(ctx, reqs[i].Key)
			}
			return nil
		})
		for j, i := range is {
			ttl, err := cmds[j].Result()
			s.located(ctx, reqs[i].Key, owner.Options().Addr, ttl, err, &out[i])
		}
	}
}

// located completes a Locate read from the first master's answer, following its
// redirects.
func (s *Store) located(ctx context.Context, key, node string, ttl time.Duration, err error, res *backend.ReadResult) {
	for hop := 1; err != nil; hop++ {
		moved, isMoved := redis.IsMovedError(err)
		asked, isAsk := redis.IsAskError(err)
		if !isMoved && !isAsk || hop > maxLocateHops {
			res.Err = fmt.Errorf("redis backend: locate %q: pttl on %s: %w", key, node, explainPerm(err, "+pttl (@read)"))
			return
		}
		node = moved
		if isAsk {
			node = asked
		}
		ttl, err = s.askingPTTL(ctx, node, key)
	}
	if ttl == -2 {
		return // gone: Exists stays false
	}
	res.Exists, res.Node, res.TTL = true, node, ttl
	if ttl < 0 {
		res.TTL = -1
	}
}

// maxLocateHops bounds the redirects a Locate read follows: one is the rule (the
// source of a migration names its target), two when a slot moved twice meanwhile.
const maxLocateHops = 3

// askingPTTL sends ASKING then PTTL to the master at addr: a master importing the
// key's slot answers for the key, and one that owns the slot ignores ASKING.
func (s *Store) askingPTTL(ctx context.Context, addr, key string) (time.Duration, error) {
	c := s.redirectClient(addr)
	var ttl *redis.DurationCmd
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "asking")
		ttl = p.PTTL(ctx, key)
		return nil
	})
	if ttl != nil && ttl.Err() != nil {
		return 0, ttl.Err()
	}
	if err != nil {
		return 0, err
	}
	return ttl.Val(), nil
}

// redirectClient is a client of the master at addr for askingPTTL, made on first use
// (most are masters this process does not follow) and closed with the store.
func (s *Store) redirectClient(addr string) *redis.Client {
	cs := s.cluster
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c := cs.redirects[addr]; c != nil {
		return c
	}
	opts := *s.opts
	opts.Addr, opts.DB, opts.PoolSize = addr, 0, 2
	c := redis.NewClient(&opts)
	if cs.redirects == nil {
		cs.redirects = map[string]*redis.Client{}
	}
	cs.redirects[addr] = c
	return c
}

// checkNodes refuses --nodes names that are not masters serving slots now.
func (s *Store) checkNodes(masters []string) error {
	if len(s.cfg.Nodes) == 0 {
		return nil
	}
	var unknown []string
	for _, n := range s.cfg.Nodes {
		if !slices.Contains(masters, n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("--nodes %s: %w; its masters are %s", strings.Join(unknown, ","), ErrNotAMaster, strings.Join(masters, ","))
	}
	return nil
}

// followedOf keeps the masters this process follows.
func (s *Store) followedOf(masters []string) []string {
	if len(s.cfg.Nodes) == 0 {
		return masters
	}
	return slices.DeleteFunc(masters, func(m string) bool { return !slices.Contains(s.cfg.Nodes, m) })
}

// followingNote says which masters --nodes picked, for the store's display name.
func (s *Store) followingNote() string {
	if len(s.cfg.Nodes) == 0 {
		return ""
	}
	return ", following " + strings.Join(s.cfg.Nodes, ",")
}
