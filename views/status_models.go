package views

// StatusPage describes the backend and sessionscope itself.
type StatusPage struct {
	Layout          Layout
	Backend         string
	Describe        string
	Mode            string
	PollLimits      []string // what polling cannot see; set when Mode is polling
	State           string
	Node            string
	Message         string
	Since           Stamp
	NoNotifications bool // the backend has no keyspace notifications (memory, files): no flags to show
	Flags           string
	Missing         string
	Fix             string
	Hints           []string
	NotifError      string
	Scanned         int64
	InvSessions     int64
	InvDone         bool
	Sessions        int
	Budget          string // reads/s allowed, or "unlimited"
	Reads           int64
	Denied          int64
	Clients         int
	HeapAlloc       string
	Sys             string
	RawEvents       int64
	Emitted         int64
	Dropped         int64
	Gaps            int64
	ReadsPerSec     string
	BudgetPercent   int
	Proxy           ProxyPanel // the capturing proxy, or how to start one
	// InvPhase is where a two-phase inventory stands (model.InventoryList, Fill, Done);
	// "" for a store that reads everything in one pass.
	InvPhase      string
	InvFilled     int64 // sessions whose TTL and size phase two has read
	InvListedAt   Stamp // phase one done: every session listed
	InvListedTook string
	InvFilledAt   Stamp // phase two done: every TTL and size read
	InvFilledTook string
}
