package cookies

import (
	"slices"
	"strings"
	"testing"
)

// TestModelMatchesChromiumTable replays the ground-truth table against the model
// alone, so the verdicts Chromium gave stay pinned where no browser is installed.
func TestModelMatchesChromiumTable(t *testing.T) {
	for _, tc := range realCases {
		t.Run(tc.name, func(t *testing.T) {
			m := &modelRun{h: hosts{port: "8080", pub: "192.0.2.2"}}
			var got []string
			for _, st := range tc.steps {
				got = m.step(st)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}
