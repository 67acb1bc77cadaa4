package handlers

import (
	"net/http"
	"sort"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// activeRules are the diagnosis rules the inspector runs today, for the empty state.
// The inspector does not list its rules, so this mirrors inspector/diagnose.
var activeRules = []views.Link{
	{Text: "fixation", URL: "an authentication marker appeared in a session that kept its id"},
	{Text: "old-session-kept", URL: "a regeneration left the old session alive in the store"},
	{Text: "no-server-expiry", URL: "session keys without a TTL: the server never expires them"},
}

// FindingsList renders every finding grouped by rule, worst severity first.
func (h *Handlers) FindingsList(c echo.Context) error {
	vm := views.FindingsPage{Layout: h.Layout("Findings", "findings"), Rules: activeRules}
	byRule := map[string]*views.FindingGroup{}
	var order []string
	for _, f := range h.d.Src.Findings() {
		g, ok := byRule[f.Rule]
		if !ok {
			g = &views.FindingGroup{Rule: f.Rule, Severity: string(f.Severity)}
			byRule[f.Rule] = g
			order = append(order, f.Rule)
		}
		if model.Severity(g.Severity).Rank() < f.Severity.Rank() {
			g.Severity = string(f.Severity)
		}
		g.Count += max(f.Count, 1)
		g.Findings = append(g.Findings, findingView(f))
	}
	sort.SliceStable(order, func(i, j int) bool {
		return model.Severity(byRule[order[i]].Severity).Rank() > model.Severity(byRule[order[j]].Severity).Rank()
	})
	for _, r := range order {
		vm.Groups = append(vm.Groups, *byRule[r])
	}
	return Render(c, http.StatusOK, views.FindingsView(vm))
}

// findingView is a finding for the page, with links to the sessions and events it cites.
func findingView(f model.Finding) views.Finding {
	v := views.Finding{ID: f.ID, Rule: f.Rule, Severity: string(f.Severity), Title: f.Title, Detail: f.Detail,
		Fix: f.Fix, Evidence: f.Evidence, Count: f.Count, First: stamp(f.FirstSeen), Last: stamp(f.LastSeen)}
	for _, ref := range f.Sessions {
		v.Sessions = append(v.Sessions, views.Link{Text: ref, URL: sessionURL(ref)})
	}
	for _, seq := range f.Events {
		if seq == 0 {
			continue
		}
		v.Events = append(v.Events, views.Link{Text: "#" + strconv.FormatUint(seq, 10), URL: eventURL(seq)})
	}
	return v
}
