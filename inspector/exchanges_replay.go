package inspector

import (
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// replay re-runs the HTTP-side rules over one client's kept history, without a new
// exchange, and returns the findings that are new or changed. It is how a store-side
// cause found after the fact reaches the client's login-loop finding.
func (r *trafficRules) replay(c model.Client) []*model.Finding {
	r.mu.Lock()
	defer r.mu.Unlock()
	hist := r.byClient[browserOf(c)]
	if len(hist) == 0 {
		return nil
	}
	var changed []*model.Finding
	for _, f := range diagnose.AnalyzeExchanges(hist, r.opts) {
		sig := f.LastSeen.String() + "|" + itoa(f.Count) + "|" + f.Detail
		if r.published[f.ID] == sig {
			continue
		}
		r.published[f.ID] = sig
		f := f
		changed = append(changed, &f)
	}
	return changed
}
