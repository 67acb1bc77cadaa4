package inspector

import (
	"sync"

	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// maxExchangesPerClient bounds the history the live HTTP-side rules replay per
// browser: enough for a login loop to show, small enough to replay on every request.
const maxExchangesPerClient = 200

// trafficRules runs the HTTP-side rules (cookie-rejected, cookie-not-sent,
// login-loop) on proxied exchanges as they arrive. Each client (address and
// User-Agent) is one browser with its own cookie jar, as in a HAR.
type trafficRules struct {
	opts      diagnose.AnalyzeOptions
	mu        sync.Mutex
	byClient  map[model.Client][]*model.Exchange
	findings  map[string]model.Finding // by id, as last published
	published map[string]string        // id -> signature of what was published
}

func newTrafficRules(opts diagnose.AnalyzeOptions) *trafficRules {
	return &trafficRules{opts: opts, byClient: map[model.Client][]*model.Exchange{},
		findings: map[string]model.Finding{}, published: map[string]string{}}
}

// observe adds an exchange and returns it annotated with the cookie verdicts (a copy
// of its own) and the findings that are new or changed.
func (r *trafficRules) observe(x *model.Exchange) (*model.Exchange, []*model.Finding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The replay annotates the history's exchanges again on every call: keep them
	// private and hand out a copy.
	own := x.Clone()
	hist := append(r.byClient[x.Client], own)
	if len(hist) > maxExchangesPerClient {
		hist = hist[len(hist)-maxExchangesPerClient:]
	}
	r.byClient[x.Client] = hist
	if len(r.byClient) > 1000 { // many distinct clients: forget the others
		r.byClient = map[model.Client][]*model.Exchange{x.Client: hist}
	}
	var changed []*model.Finding
	found := diagnose.AnalyzeExchanges(hist, r.opts)
	annotated := own.Clone()
	for _, f := range found {
		sig := f.LastSeen.String() + "|" + itoa(f.Count) + "|" + f.Detail
		if r.published[f.ID] == sig {
			continue
		}
		r.published[f.ID] = sig
		f := f
		changed = append(changed, &f)
	}
	return annotated, changed
}

func (r *trafficRules) record(f *model.Finding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.findings[f.ID] = *f
}

func (r *trafficRules) all() []model.Finding {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]model.Finding, 0, len(r.findings))
	for _, f := range r.findings {
		out = append(out, f)
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
