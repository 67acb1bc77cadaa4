package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// RequiredFlags are the notify-keyspace-events classes sessionscope needs: keyevent
// channels (E) for generic commands (g: del, expire, rename), strings ($: set), hashes
// (h: Spring), expiry (x) and eviction (e).
const RequiredFlags = "Eg$hxe"

// newKeyFlag (n, Redis 7+) adds a "new" event when a key is created; it is useful but
// not required, and older servers reject it, so it is only suggested when supported.
const newKeyFlag = "n"

// flagAliasA is what the A class expands to in Redis 7 (n and m are not part of it).
const flagAliasA = "g$lshzxetd"

// MissingFlags returns which of want are not enabled by the current value.
func MissingFlags(current, want string) string {
	have := current
	if strings.ContainsRune(current, 'A') {
		have += flagAliasA
	}
	var missing strings.Builder
	for _, c := range want {
		if !strings.ContainsRune(have, c) {
			missing.WriteRune(c)
		}
	}
	return missing.String()
}

// MergeFlags returns current with missing appended: the fix never drops a flag that
// another consumer of the server relies on.
func MergeFlags(current, missing string) string { return current + missing }

// FixCommand is the exact redis-cli command that merges the missing flags.
func FixCommand(merged string) string {
	return fmt.Sprintf("redis-cli CONFIG SET notify-keyspace-events '%s'", merged)
}

// ManagedHints says how to set the flags where CONFIG is not allowed.
func ManagedHints(merged string) []string {
	return []string{
		fmt.Sprintf("AWS ElastiCache: set notify-keyspace-events to %s in a custom parameter group attached to the cluster: aws elasticache modify-cache-parameter-group --cache-parameter-group-name NAME --parameter-name-values ParameterName=notify-keyspace-events,ParameterValue=%s", merged, merged),
		fmt.Sprintf("Azure Cache for Redis: Advanced settings > notify-keyspace-events = %s, or az redis update --name NAME --resource-group GROUP --set \"redisConfiguration.notify-keyspace-events=%s\"", merged, merged),
		fmt.Sprintf("Google Memorystore: gcloud redis instances update NAME --region REGION --update-redis-config notify-keyspace-events=%s", merged),
	}
}

// checkNotifications reads the flags and, when asked, merges the missing ones in. It
// reports probe=true when the flags could not be confirmed and the stream must show
// whether events arrive anyway.
func (s *Store) checkNotifications(ctx context.Context) (model.Notifications, bool) {
	log := s.cfg.Logger
	want := RequiredFlags
	if s.supportsNewKeyEvents(ctx) {
		want += newKeyFlag
	}
	vals, err := s.client.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		n := model.Notifications{Hints: ManagedHints(RequiredFlags), Error: fmt.Sprintf(
			"cannot read notify-keyspace-events (%s): this Redis forbids CONFIG (managed Redis or an ACL without +config|get); listening %s to see whether events arrive anyway",
			firstLine(err.Error()), s.cfg.ProbeWindow)}
		var perm *PermError
		if errors.As(explainPerm(err, "+config|get"), &perm) {
			// An ACL refusal is fixable by the user, unlike a managed service's ban.
			n.Error = fmt.Sprintf("the ACL user lacks %s, so sessionscope cannot check notify-keyspace-events: add it, or run with notifications already configured; listening %s to see whether events arrive anyway",
				perm.Need, s.cfg.ProbeWindow)
		}
		log.Warn("CONFIG GET refused", "err", err)
		return n, true
	}
	current := vals["notify-keyspace-events"]
	n := model.Notifications{Flags: current}
	missingRequired := MissingFlags(current, RequiredFlags)
	missing := MissingFlags(current, want)
	if missing == "" {
		if s.cfg.ConfigureNotifications {
			s.setFlagsChange(fmt.Sprintf("notify-keyspace-events: %q -> %q (--configure-notifications: the flags sessionscope needs were already set; nothing changed)", current, current))
		}
		return n, false
	}
	merged := MergeFlags(current, missing)
	if !s.cfg.ConfigureNotifications {
		if missingRequired == "" {
			// Only the optional n flag is missing: work on, without a complaint.
			return n, false
		}
		n.Missing = missingRequired
		n.Fix = FixCommand(merged)
		n.Hints = ManagedHints(merged)
		return n, false
	}
	if err := s.client.ConfigSet(ctx, "notify-keyspace-events", merged).Err(); err != nil {
		n.Missing = missingRequired
		n.Fix = FixCommand(merged)
		n.Hints = ManagedHints(merged)
		n.Error = fmt.Sprintf("--configure-notifications: Redis refused CONFIG SET (%s); set the flags another way (see the managed-Redis notes) — listening %s to see whether events arrive anyway",
			firstLine(err.Error()), s.cfg.ProbeWindow)
		var perm *PermError
		if errors.As(explainPerm(err, "+config|set"), &perm) {
			n.Error = fmt.Sprintf("--configure-notifications: the ACL user lacks %s, so it cannot turn notifications on: grant it, or have an admin run %s; listening %s to see whether events arrive anyway",
				perm.Need, n.Fix, s.cfg.ProbeWindow)
		}
		return n, true
	}
	// Redis stores the flags in its own order: show what it now holds, so the line
	// matches what CONFIG GET tells the user later.
	after := merged
	if vals, err := s.client.ConfigGet(ctx, "notify-keyspace-events").Result(); err == nil && vals["notify-keyspace-events"] != "" {
		after = vals["notify-keyspace-events"]
	}
	s.setFlagsChange(fmt.Sprintf("notify-keyspace-events: %q -> %q (--configure-notifications added %q)", current, after, missing))
	log.Info("merged keyspace notification flags", "before", current, "after", after)
	return model.Notifications{Flags: after}, false
}

// setFlagsChange records what --configure-notifications did, for the first status.
func (s *Store) setFlagsChange(line string) {
	s.mu.Lock()
	s.flagsChange = line
	s.mu.Unlock()
}

// takeFlagsChange returns what --configure-notifications did, once: the line goes
// out with the first status, and a later re-check after a gap does not repeat it.
func (s *Store) takeFlagsChange() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := s.flagsChange
	s.flagsChange = ""
	return line
}

// supportsNewKeyEvents reports whether the server is Redis 7 or newer. INFO may be
// refused to a restricted user; then the optional flag is simply not suggested.
func (s *Store) supportsNewKeyEvents(ctx context.Context) bool {
	info, err := s.client.Info(ctx, "server").Result()
	if err != nil {
		return false
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			s.mu.Lock()
			s.version = v
			s.mu.Unlock()
			major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
			return major >= 7
		}
	}
	return false
}

// CheckNotifications reads (and, with ConfigureNotifications, merges) the flags, as
// Run does at start, and returns what it found.
func (s *Store) CheckNotifications(ctx context.Context) model.Notifications {
	n, _ := s.checkNotifications(ctx)
	s.mu.Lock()
	s.notif = n
	s.mu.Unlock()
	return n
}
