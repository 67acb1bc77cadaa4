package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// findingRequestLinks is how many of a finding's exchanges it links one by one; the
// rest are a click away on the Requests screen filtered to the finding.
const findingRequestLinks = 5

// activeRules lists every diagnosis rule for the empty state.
func activeRules() []views.Link {
	var out []views.Link
	for _, r := range diagnose.Catalog() {
		out = append(out, views.Link{Text: r.ID, URL: r.Summary})
	}
	return out
}

// findingsFilter selects findings by severity and rule, on the Findings screen, its
// live socket and /api/findings alike.
type findingsFilter struct {
	Severity string // error, warning, info or "" for all
	Rule     string // a rule id or "" for all
}

// parseFindingsFilter reads ?severity= and ?rule=; its errors say what is accepted.
func parseFindingsFilter(c echo.Context) (findingsFilter, error) {
	f := findingsFilter{Severity: c.QueryParam("severity"), Rule: c.QueryParam("rule")}
	switch model.Severity(f.Severity) {
	case "", model.SeverityError, model.SeverityWarning, model.SeverityInfo:
	default:
		return f, fmt.Errorf("unknown severity %q: use error, warning or info", truncate(f.Severity, 20))
	}
	if len(f.Rule) > 60 {
		return f, fmt.Errorf("the rule is longer than 60 characters: use a rule id such as login-loop")
	}
	return f, nil
}

func (f findingsFilter) match(x model.Finding) bool {
	return (f.Severity == "" || string(x.Severity) == f.Severity) && (f.Rule == "" || x.Rule == f.Rule)
}

func (f findingsFilter) values() url.Values {
	v := url.Values{}
	if f.Severity != "" {
		v.Set("severity", f.Severity)
	}
	if f.Rule != "" {
		v.Set("rule", f.Rule)
	}
	return v
}

func (f findingsFilter) url() string { return withQuery("/findings", f.values()) }

// FindingsList renders the findings grouped by rule, worst severity first, filtered by
// ?severity= and ?rule= (the Lab screen links to a scenario's expected findings so).
// Its live socket updates findings in place and counts new ones.
func (h *Handlers) FindingsList(c echo.Context) error {
	f, err := parseFindingsFilter(c)
	if err != nil {
		return h.ErrorPage(c, http.StatusBadRequest, "Bad findings filter", err.Error(), views.Link{Text: "Show all findings", URL: "/findings"})
	}
	all := h.d.Src.Findings()
	vm := views.FindingsPage{Layout: h.Layout("Findings", "findings"), Rules: activeRules(), Rule: f.Rule, Severity: f.Severity,
		Groups: findingGroups(all, f), URL: f.url()}
	vm.Layout.Socket = pageSocketValues(viewFindings, vm.Layout.Seq, f.values())
	for _, s := range []string{"", string(model.SeverityError), string(model.SeverityWarning), string(model.SeverityInfo)} {
		vm.Severities = append(vm.Severities, views.FilterLink{Label: labelOr(s, "all"), URL: findingsFilter{Severity: s, Rule: f.Rule}.url(), Selected: s == f.Severity})
	}
	rules := map[string]bool{}
	if f.Rule != "" {
		rules[f.Rule] = true
	}
	for _, x := range all {
		rules[x.Rule] = true
	}
	vm.RuleChips = append(vm.RuleChips, views.FilterLink{Label: "all", URL: findingsFilter{Severity: f.Severity}.url(), Selected: f.Rule == ""})
	for _, r := range sortedKeys(rules) {
		vm.RuleChips = append(vm.RuleChips, views.FilterLink{Label: r, URL: findingsFilter{Severity: f.Severity, Rule: r}.url(), Selected: r == f.Rule})
	}
	return Render(c, http.StatusOK, views.FindingsView(vm))
}

func labelOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// findingGroups groups the findings f selects by rule, worst severity first.
func findingGroups(fs []model.Finding, f findingsFilter) []views.FindingGroup {
	byRule := map[string]*views.FindingGroup{}
	var order []string
	for _, x := range fs {
		if !f.match(x) {
			continue
		}
		g, ok := byRule[x.Rule]
		if !ok {
			g = &views.FindingGroup{Rule: x.Rule, Severity: string(x.Severity)}
			byRule[x.Rule] = g
			order = append(order, x.Rule)
		}
		if model.Severity(g.Severity).Rank() < x.Severity.Rank() {
			g.Severity = string(x.Severity)
		}
		g.Count += max(x.Count, 1)
		g.Findings = append(g.Findings, liveFindingView(x))
	}
	sort.SliceStable(order, func(i, j int) bool {
		return model.Severity(byRule[order[i]].Severity).Rank() > model.Severity(byRule[order[j]].Severity).Rank()
	})
	out := make([]views.FindingGroup, 0, len(order))
	for _, r := range order {
		out = append(out, *byRule[r])
	}
	return out
}

// findingView is a finding for the page, with links to the sessions and events it
// cites and to the findings its detail names.
func findingView(f model.Finding) views.Finding {
	v := views.Finding{ID: f.ID, Rule: f.Rule, Severity: string(f.Severity), Title: f.Title, Detail: f.Detail,
		DetailParts: findingDetailParts(f.Detail), Fix: f.Fix, Evidence: f.Evidence, Count: f.Count,
		First: stamp(f.FirstSeen), Last: stamp(f.LastSeen)}
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

// liveFindingView is a finding of the live log as the Findings screen shows it: its
// first exchanges linked one by one, and a flow even when it cites no exchange (its
// first session's).
func liveFindingView(f model.Finding) views.Finding {
	v := findingView(f)
	for i, id := range f.Exchanges {
		if i == findingRequestLinks {
			break
		}
		v.Requests = append(v.Requests, views.Link{Text: truncate(id, 24), URL: exchangeURL(id)})
	}
	if v.FlowURL == "" && len(f.Sessions) > 0 {
		v.FlowURL = withQuery("/flow", url.Values{"session": {f.Sessions[0]}})
	}
	return v
}

// findingRef is how a finding's detail names another finding.
var findingRef = regexp.MustCompile(`\[finding ([a-z0-9][a-z0-9-]*)\]`)

// findingDetailParts splits a detail into text and links to the findings it names,
// so that the page links them without ever treating the detail as markup.
func findingDetailParts(detail string) []views.TextPart {
	matches := findingRef.FindAllStringSubmatchIndex(detail, -1)
	if matches == nil {
		return nil
	}
	var parts []views.TextPart
	last := 0
	for _, m := range matches {
		if m[0] > last {
			parts = append(parts, views.TextPart{Text: detail[last:m[0]]})
		}
		id := detail[m[2]:m[3]]
		parts = append(parts, views.TextPart{Text: "[finding " + id + "]", URL: "/findings#" + url.PathEscape(id)})
		last = m[1]
	}
	if last < len(detail) {
		parts = append(parts, views.TextPart{Text: detail[last:]})
	}
	return parts
}
