// Package model holds the objects sessionscope emits: events, findings and status
// objects, with the JSON shape that DESIGN.md fixes for `watch --json`, the HTTP API and
// the websocket. It also defines session refs and id masking.
package model

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Object types, the `type` field of every emitted JSON object.
const (
	TypeEvent    = "event"
	TypeExchange = "exchange"
	TypeFinding  = "finding"
	TypeStatus   = "status"
)

// Kind is an event kind from the DESIGN.md vocabulary.
type Kind string

// Event kinds.
const (
	KindCreated     Kind = "created"
	KindUpdated     Kind = "updated"
	KindTouched     Kind = "touched"
	KindRegenerated Kind = "regenerated"
	KindExpired     Kind = "expired"
	KindEvicted     Kind = "evicted"
	KindDestroyed   Kind = "destroyed"
	KindGap         Kind = "gap"
	KindResynced    Kind = "resynced"
)

// DefaultWindow is the default correlation window. It applies only across keys: a
// delete and a create that form one regeneration, a kept old key, or store events and
// the HTTP exchange that caused them. Long enough for the few round trips of one
// request's session handling, short enough that two visitors rarely overlap.
const DefaultWindow = 300 * time.Millisecond

// Evidence for a regeneration, or for events reconstructed after a gap.
const (
	EvidenceHTTP    = "http"
	EvidenceRename  = "rename"
	EvidencePayload = "payload"
	EvidenceTiming  = "timing"
	EvidenceResync  = "resync"
	// EvidencePoll marks an event inferred by polling (--mode poll): lower fidelity.
	EvidencePoll = "poll"
)

// Destroy causes.
const (
	CauseApp           = "app"
	CauseHijackSuspect = "hijack-suspect"
)

// Reasons an event's payload was not read, the `payload_unread` field.
const (
	UnreadBudget  = "budget"  // the read budget was spent
	UnreadGone    = "gone"    // the key was gone when sessionscope read it
	UnreadError   = "error"   // the read failed
	UnreadTimeout = "timeout" // the read did not answer in time
	// UnreadSuperseded: the key was written again before its read answered, so what
	// was read may be the later write; it is shown with that one instead.
	UnreadSuperseded = "superseded"
	UnreadTooLarge   = "too-large" // only the first bytes were read (size cap)
	// UnreadNoWrite: the key's write was not among what Redis delivered (lost in a
	// gap), only its creation or its TTL was, so there was nothing to read as it.
	UnreadNoWrite = "no-write"
)

// Object is anything that flows to subscribers: *Event, *Finding, *Status.
type Object interface {
	// ObjectSeq is the process-wide sequence number.
	ObjectSeq() uint64
	// SetSeq stamps the sequence number when the object is published.
	SetSeq(uint64)
}

// SessionInfo identifies a session without revealing its id.
type SessionInfo struct {
	Ref       string `json:"ref"`
	ID        string `json:"id"`
	Framework string `json:"framework"`
	KeyPrefix string `json:"key_prefix"`

	// StoreID is the full store id, for rules that study ids (weak-session-id). It is a
	// bearer credential: never serialised.
	StoreID string `json:"-"`
}

// Event is one lifecycle event (`type: event`).
type Event struct {
	Type     string       `json:"type"`
	Seq      uint64       `json:"seq"`
	Time     time.Time    `json:"time"`
	Kind     Kind         `json:"kind"`
	Session  *SessionInfo `json:"session,omitempty"`
	Backend  string       `json:"backend"`
	Node     string       `json:"node,omitempty"`
	TTL      *int64       `json:"ttl_s,omitempty"`
	Size     *int         `json:"size,omitempty"`
	Exchange string       `json:"exchange,omitempty"`
	Format   string       `json:"format,omitempty"`

	Changed  []string     `json:"changed,omitempty"`
	From     *SessionInfo `json:"from,omitempty"`
	Evidence string       `json:"evidence,omitempty"`
	OldKept  bool         `json:"old_kept,omitempty"`
	// Candidates, on a created event, are the sessions that ended in its correlation
	// window and may be the one it replaces, when the store alone cannot tell which
	// (or whether any): the UI shows "one of these", never a link.
	Candidates []SessionInfo `json:"candidates,omitempty"`
	AgeS       *float64      `json:"age_s,omitempty"`
	IdleS      *float64      `json:"idle_s,omitempty"`
	Cause      string        `json:"cause,omitempty"`

	FromTime *time.Time `json:"from_time,omitempty"`
	ToTime   *time.Time `json:"to_time,omitempty"`
	Dropped  int64      `json:"dropped,omitempty"`
	Reason   string     `json:"reason,omitempty"`

	PayloadUnread string `json:"payload_unread,omitempty"`

	// Internal annotations for diagnosis rules; never serialised.
	AuthAdded bool `json:"-"` // an authentication marker appeared in this write
	// TTLRead: TTL was read from the store for this event (PTTL), not inferred from
	// the notifications: a set whose expire was not seen with it only looks TTL-less.
	TTLRead       bool `json:"-"`
	Authenticated bool `json:"-"` // the payload after this event carries an auth marker
}

// ObjectSeq implements Object.
func (e *Event) ObjectSeq() uint64 { return e.Seq }

// SetSeq implements Object.
func (e *Event) SetSeq(s uint64) { e.Seq = s }

// Severity of a finding.
type Severity string

// Severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Rank orders severities for --fail-on style comparisons.
func (s Severity) Rank() int {
	switch s {
	case SeverityError:
		return 3
	case SeverityWarning:
		return 2
	case SeverityInfo:
		return 1
	}
	return 0
}

// Finding is a diagnosis (`type: finding`). A finding is about a cause: when the same
// rule fires again for the same cause it is updated and emitted again with the same id.
type Finding struct {
	Type      string    `json:"type"`
	Seq       uint64    `json:"seq"`
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Rule      string    `json:"rule"`
	Severity  Severity  `json:"severity"`
	Title     string    `json:"title"`
	Detail    string    `json:"detail"`
	Fix       string    `json:"fix"`
	Sessions  []string  `json:"sessions"`
	Exchanges []string  `json:"exchanges"`
	Events    []uint64  `json:"events,omitempty"`
	Evidence  []string  `json:"evidence"`
	Count     int       `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// ObjectSeq implements Object.
func (f *Finding) ObjectSeq() uint64 { return f.Seq }

// SetSeq implements Object.
func (f *Finding) SetSeq(s uint64) { f.Seq = s }

// Backend states.
const (
	StateConnecting   = "connecting"
	StateInventory    = "inventory"
	StateLive         = "live"
	StatePolling      = "polling"
	StateDisconnected = "disconnected"
)

// Backend modes, the status `mode` field: how a backend sees changes.
const (
	ModeNotify = "notify" // the store reports each operation (keyspace notifications)
	ModePoll   = "poll"   // sessionscope diffs SCAN passes: lower fidelity
)

// PollLimits returns the fidelity limits of poll mode, for the Status screen and the
// README: polling sees states, not operations, so everything between passes is inferred.
func PollLimits() []string {
	return []string{
		"changes inside one interval merge: two updates between passes are one updated event",
		"a session created and deleted inside one interval is never seen",
		"destroyed vs expired is a guess: a key gone after its TTL ran out reads as expired, any other as destroyed; evictions read as one or the other",
		"event times are when a pass noticed the change, up to one interval late (expiry: the TTL's deadline)",
		"touched vs updated needs a digest read within the read budget; a rewrite that keeps the size and the TTL of a session is not seen",
		"a deletion and an unrelated new session inside one interval may read as a regeneration (evidence timing)",
	}
}

// Notifications describes the keyspace notification flags of a backend.
type Notifications struct {
	Flags   string   `json:"flags"`             // the value in force
	Missing string   `json:"missing,omitempty"` // required flags that are not set
	Fix     string   `json:"fix,omitempty"`     // the exact command that merges them in
	Hints   []string `json:"hints,omitempty"`   // how to set them on managed Redis
	Error   string   `json:"error,omitempty"`   // why the flags could not be read
}

// Inventory is the progress of the initial scan of existing sessions.
type Inventory struct {
	Scanned  int64 `json:"scanned"`
	Sessions int64 `json:"sessions"`
	Done     bool  `json:"done"`
	// Estimate is how many keys the scan is expected to walk (Redis' DBSIZE when the
	// inventory started), 0 when unknown. SCAN itself cannot know its total, and keys
	// come and go while it runs: this is for a progress bar, not a count.
	Estimate int64 `json:"estimate,omitempty"`
	// Phase is where an inventory that runs in two phases stands: InventoryList while
	// SCAN lists the sessions (Sessions counts them), InventoryFill while their TTL and
	// size are read (Filled counts them), InventoryDone after both. Empty for a store
	// that reads everything in one pass (files, memory, a re-inventory after a gap).
	Phase string `json:"phase,omitempty"`
	// Filled is how many listed sessions have their TTL and size read.
	Filled int64 `json:"filled,omitempty"`
	// StartedAt is when the inventory started, ListedAt when every session was listed
	// (phase one done), FilledAt when every TTL and size was read (phase two done).
	StartedAt *time.Time `json:"started_at,omitempty"`
	ListedAt  *time.Time `json:"listed_at,omitempty"`
	FilledAt  *time.Time `json:"filled_at,omitempty"`
}

// Inventory phases (Inventory.Phase).
const (
	InventoryList = "list"
	InventoryFill = "fill"
	InventoryDone = "done"
)

// Status is a backend state change or inventory progress (`type: status`).
type Status struct {
	Type          string         `json:"type"`
	Seq           uint64         `json:"seq"`
	Time          time.Time      `json:"time"`
	Backend       string         `json:"backend"`
	Node          string         `json:"node,omitempty"`
	State         string         `json:"state"`
	Mode          string         `json:"mode,omitempty"` // how changes are seen: notify or poll
	Notifications *Notifications `json:"notifications,omitempty"`
	Inventory     *Inventory     `json:"inventory,omitempty"`
	Dropped       int64          `json:"dropped"`
	Message       string         `json:"message,omitempty"`
}

// ObjectSeq implements Object.
func (s *Status) ObjectSeq() uint64 { return s.Seq }

// SetSeq implements Object.
func (s *Status) SetSeq(n uint64) { s.Seq = n }

// Ref is the stable, shareable reference of a store id: the first 12 hex digits of its
// SHA-256.
func Ref(storeID string) string {
	sum := sha256.Sum256([]byte(storeID))
	return hex.EncodeToString(sum[:6])
}

// Mask hides a store id: its first 4 characters, an ellipsis and its last 2. Session
// ids are bearer credentials, so short ids are masked entirely.
func Mask(storeID string) string {
	r := []rune(storeID)
	if len(r) <= 8 {
		return "…"
	}
	return string(r[:4]) + "…" + string(r[len(r)-2:])
}

// ShowID returns the id as displayed: masked unless reveal is set.
func ShowID(storeID string, reveal bool) string {
	if reveal {
		return storeID
	}
	return Mask(storeID)
}
