package memory

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
)

// watch runs a real Inspector over store and records what it emits, as the inspector
// package's own harness does for Redis. Sessions are named by key.
type watch struct {
	*trackertest.Watch
	in *inspector.Inspector
}

var matcher = framework.NewMatcher(framework.Builtin())

// refOf is the ref of a session key under the builtin table.
var refOf = trackertest.KeyRef(matcher)

// testWindow is shorter than the 300 ms default so the tests spend less time waiting;
// steps still wait for each event, so nothing depends on how long anything takes.
const testWindow = 60 * time.Millisecond

func newWatch(t *testing.T, store backend.Store) *watch {
	t.Helper()
	in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: matcher, Window: testWindow}})
	return &watch{Watch: trackertest.Start(t, in, refOf), in: in}
}

// events returns the lifecycle events so far, rendered with key names instead of refs.
func (w *watch) events(names map[string]string) []string {
	var out []string
	for _, o := range w.Objects() {
		e, ok := o.(*model.Event)
		if !ok || e.Session == nil {
			continue
		}
		line := string(e.Kind) + " " + nameOf(names, e.Session.Ref)
		if e.From != nil {
			line += " from " + nameOf(names, e.From.Ref) + " (" + e.Evidence + ")"
		}
		if len(e.Changed) > 0 {
			line += " changed " + strings.Join(e.Changed, ",")
		}
		out = append(out, line)
	}
	return out
}

func nameOf(names map[string]string, ref string) string {
	if n, ok := names[ref]; ok {
		return n
	}
	return ref
}

// phpKey is a phpredis session key; ids look like PHP's default 26 characters.
func phpKey(id string) string { return "PHPREDIS_SESSION:" + id }

// phpSession is a session payload in PHP's default "php" serialize handler format.
func phpSession(user string) []byte {
	return fmt.Appendf(nil, "user|s:%d:\"%s\";", len(user), user)
}
