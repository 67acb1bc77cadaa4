package handlers

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// FeedLimit is how many rows the live feed keeps; app.js drops older rows past it.
const FeedLimit = 500

// feedKinds are the kind chips, in lifecycle order.
var feedKinds = [...]model.Kind{model.KindCreated, model.KindUpdated, model.KindTouched, model.KindRegenerated,
	model.KindExpired, model.KindEvicted, model.KindDestroyed, model.KindGap, model.KindResynced}

// Live renders the live screen: the newest events from the ring, counters, the rate
// sparkline and the backend strip. The page's live socket then resumes after the seq
// this render reflects.
func (h *Handlers) Live(c echo.Context) error {
	layout := h.Layout("Live", "live")
	layout.Socket = pageSocket(viewLive, layout.Seq, views.ExchangeFilter{})
	vm := views.LivePage{Layout: layout}
	for _, k := range feedKinds {
		vm.Kinds = append(vm.Kinds, views.Chip{Value: string(k), Label: string(k)})
	}
	st := h.d.Src.Status()
	vm.Counters, vm.Spark, vm.Strip = liveHead(h.liveCounters(), st)
	vm.NotificationsFix = notificationsFix(st)
	vm.HistoryOn = h.historyOn()
	if from, after := c.QueryParam("from"), c.QueryParam("after"); from != "" || after != "" {
		return h.livePast(c, vm, from, after) // its rows come from the history, not the ring
	}
	var seen map[string]bool
	vm.Rows, seen = h.feedRows(layout.Seq)
	vm.Frameworks = frameworkChips(seen)
	return Render(c, http.StatusOK, views.LiveView(vm))
}

// feedRows are the newest events of the ring up to seq, newest first, and the
// frameworks they show. The page and its socket's snapshot both show these.
func (h *Handlers) feedRows(seq uint64) ([]views.FeedRow, map[string]bool) {
	objs, _ := h.d.Src.Since(0, 0)
	var rows []views.FeedRow
	seen := map[string]bool{}
	for i := len(objs) - 1; i >= 0 && len(rows) < FeedLimit; i-- {
		e, ok := objs[i].(*model.Event)
		if !ok || e.Seq > seq {
			continue // newer than the seq the page resumes after: the socket brings it
		}
		rows = append(rows, feedRow(e))
		if e.Session != nil {
			seen[e.Session.Framework] = true
		}
	}
	return rows, seen
}

// liveCounters are the hub's rolling counters; zeros but the findings before it runs.
func (h *Handlers) liveCounters() Counters {
	if h.d.Live != nil {
		return h.d.Live.Counters()
	}
	return Counters{Findings: len(h.d.Src.Findings())}
}

// liveHead is the top of the Live screen: counters, sparkline and backend strip, as
// the page renders them and the socket pushes them.
func liveHead(c Counters, st inspector.BackendStatus) (views.Counters, views.Sparkline, views.StatusStrip) {
	vc := views.Counters{Live: st.Sessions, Created: c.Created, Regenerated: c.Regenerated,
		Expired: c.Expired, Destroyed: c.Destroyed}
	return vc, sparkline(c.Rate), statusStrip(st)
}

// frameworkChips lists the builtin frameworks plus any custom one seen in the feed.
func frameworkChips(seen map[string]bool) []views.Chip {
	names := map[string]bool{}
	for _, fw := range framework.Builtin() {
		names[fw.Name] = true
	}
	for n := range seen {
		if n != "" {
			names[n] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	chips := make([]views.Chip, 0, len(sorted))
	for _, n := range sorted {
		chips = append(chips, views.Chip{Value: n, Label: n})
	}
	return chips
}

// sparkline scales per-second rates into the 120×30 SVG viewBox.
func sparkline(rate []int) views.Sparkline {
	s := views.Sparkline{Max: 1}
	for _, r := range rate {
		s.Max = max(s.Max, r)
	}
	if len(rate) > 0 {
		s.Now = rate[len(rate)-1]
	}
	var b strings.Builder
	n := len(rate)
	for i, r := range rate {
		x := 0
		if n > 1 {
			x = i * 120 / (n - 1)
		}
		y := 29 - r*27/s.Max
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(x) + "," + strconv.Itoa(y))
	}
	if n == 0 {
		b.WriteString("0,29 120,29")
	}
	s.Points = b.String()
	return s
}

func statusStrip(st inspector.BackendStatus) views.StatusStrip {
	s := views.StatusStrip{Backend: st.Name, State: st.Last.State, Dropped: st.Dropped, Gaps: st.Gaps, Message: st.Last.Message,
		NoNotifications: st.Name != "redis"} // only Redis has keyspace notifications
	if s.State == "" {
		s.State = model.StateConnecting
	}
	s.Connected = s.State == model.StateLive || s.State == model.StateInventory || s.State == model.StatePolling
	if n := st.Last.Notifications; n != nil {
		s.Flags, s.Missing, s.Fix = n.Flags, n.Missing, n.Fix
	}
	return s
}

// notificationsFix is the command the empty state offers when flags are missing.
func notificationsFix(st inspector.BackendStatus) string {
	n := st.Last.Notifications
	if n == nil || n.Missing == "" {
		return ""
	}
	if n.Fix != "" {
		return n.Fix
	}
	return "redis-cli CONFIG SET notify-keyspace-events '" + n.Flags + n.Missing + "'"
}
