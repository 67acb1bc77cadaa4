package redisstore

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNotAMaster is returned by Open when --nodes names an address that is not a
// master of the cluster: a usage error, fixed by naming one that is.
var ErrNotAMaster = errors.New("not a master of the cluster")

// A process given Config.Nodes follows only those masters: it subscribes to their
// keyevents and inventories their keys, and leaves the other masters to other
// processes (split a cluster bigger than one process can follow; see docs/scaling.md).
//
// Slot migrations between two followed masters are followed as without --nodes: one
// session, its node changes. A session that migrates from a followed master to one
// this process does not follow is seen here as a del without its restore, which the
// tracker cannot tell from a deletion: it ends here (destroyed) and is born (created)
// in the process that follows the target master. A failover that promotes a replica
// under a new address drops the promoted master from this process unless --nodes
// names that address too (name replicas along with their masters to keep them).

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
