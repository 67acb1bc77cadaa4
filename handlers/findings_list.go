package handlers

import (
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"net/http"
	"sort"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// activeRules lists every diagnosis rule for the empty state.
func activeRules() []views.Link {
	var out []views.Link
	for _, r := range diagnose.Catalog() {
		out = append(out, views.Link{Text: r.ID, URL: r.Summary})
	}
	return out
}

// FindingsList renders every finding grouped by rule, worst severity first; ?rule=
// keeps one rule's (the Lab screen links to a scenario's expected findings so).
func (h *Handlers) FindingsList(c echo.Context) error {
	vm := views.FindingsPage{Layout: h.Layout("Findings", "findings"), Rules: activeRules(), Rule: truncate(c.QueryParam("rule"), 60)}
	byRule := map[string]*views.FindingGroup{}
	var order []string
	for _, f := range h.d.Src.Findings() {
		if vm.Rule != "" && f.Rule != vm.Rule {
			continue
		}
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
	return findingTraffic(v, f, "")
}
