package lab

import (
	"fmt"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// parseEventSpec reads a Scenario.Events entry: "kind" or "kind cause=CAUSE".
func parseEventSpec(spec string) (model.Kind, string, error) {
	kind, rest, _ := strings.Cut(strings.TrimSpace(spec), " ")
	switch model.Kind(kind) {
	case model.KindCreated, model.KindUpdated, model.KindTouched, model.KindRegenerated, model.KindExpired,
		model.KindEvicted, model.KindDestroyed:
	default:
		return "", "", fmt.Errorf("unknown event kind %q", kind)
	}
	cause := ""
	if rest != "" {
		c, ok := strings.CutPrefix(rest, "cause=")
		if !ok || c == "" {
			return "", "", fmt.Errorf("want \"kind\" or \"kind cause=CAUSE\", got %q", spec)
		}
		cause = c
	}
	return model.Kind(kind), cause, nil
}

// eventMatches reports whether ev satisfies a parsed spec.
func eventMatches(ev *model.Event, kind model.Kind, cause string) bool {
	return ev.Kind == kind && (cause == "" || ev.Cause == cause)
}
