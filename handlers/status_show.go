package handlers

import (
	"fmt"
	"net/http"
	"runtime"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// StatusShow renders the backend, notifications, inventory, read budget, dashboard
// clients and sessionscope's own memory; its live socket re-renders them as they change.
func (h *Handlers) StatusShow(c echo.Context) error {
	vm := h.statusPage()
	vm.Layout = h.Layout("Status", "status")
	vm.Layout.Socket = pageSocketValues(viewStatus, vm.Layout.Seq, nil)
	return Render(c, http.StatusOK, views.StatusView(vm))
}

// statusPage is the Status screen's view model but its layout, for the first load and
// the live socket alike.
func (h *Handlers) statusPage() views.StatusPage {
	st := h.d.Src.Status()
	vm := views.StatusPage{Backend: st.Name, Describe: st.Describe, Mode: st.Mode,
		State: st.Last.State, Node: st.Last.Node, Message: st.Last.Message, Since: stamp(st.Last.Time),
		Sessions: st.Sessions, Reads: st.Reads, Denied: st.Denied, RawEvents: st.RawEvents, Emitted: st.Emitted,
		Dropped: st.Dropped, Gaps: st.Gaps}
	if st.Mode == model.ModePoll {
		vm.PollLimits = model.PollLimits()
	}
	if vm.State == "" {
		vm.State = "connecting"
	}
	// Only Redis has keyspace notifications; the embedded store and session files
	// report their own changes, and flags would only mislead.
	vm.NoNotifications = st.Name != "redis"
	vm.Proxy = proxyPanel(st)
	if n := st.Last.Notifications; n != nil {
		vm.Flags, vm.Missing, vm.Fix, vm.Hints, vm.NotifError = n.Flags, n.Missing, n.Fix, n.Hints, n.Error
	}
	if inv := st.Last.Inventory; inv != nil {
		vm.Scanned, vm.InvSessions, vm.InvDone = inv.Scanned, inv.Sessions, inv.Done
		vm.InvPhase, vm.InvFilled = inv.Phase, inv.Filled
		vm.InvListedAt, vm.InvListedTook = phaseEnd(inv.StartedAt, inv.ListedAt)
		vm.InvFilledAt, vm.InvFilledTook = phaseEnd(inv.ListedAt, inv.FilledAt)
	}
	var perSec float64
	if h.d.Live != nil {
		counters := h.d.Live.Counters()
		perSec = counters.ReadsPerSec
		vm.Clients = h.d.Live.Clients()
	}
	vm.ReadsPerSec = fmt.Sprintf("%.0f", perSec)
	if st.ReadBudget < 0 {
		vm.Budget = "unlimited"
	} else {
		vm.Budget = fmt.Sprintf("%.0f", st.ReadBudget)
		if st.ReadBudget > 0 {
			vm.BudgetPercent = min(int(perSec*100/st.ReadBudget), 100)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	vm.HeapAlloc, vm.Sys = bytesText(int64(ms.HeapAlloc)), bytesText(int64(ms.Sys))
	return vm
}

// phaseEnd is when an inventory phase ended and how long it took, zero while it runs.
func phaseEnd(from, to *time.Time) (views.Stamp, string) {
	if to == nil {
		return views.Stamp{}, ""
	}
	took := ""
	if from != nil {
		took = fmt.Sprintf("%.2f s", to.Sub(*from).Seconds())
	}
	return stamp(*to), took
}
