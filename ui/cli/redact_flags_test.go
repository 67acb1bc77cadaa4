package cli

import (
	"slices"
	"testing"
)

func TestRedactFlag(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "repeatable, env first", args: []string{"serve", "--redis", "redis://h/0", "--redact", "dob", "--redact", "mother maiden"},
			env: map[string]string{"SESSIONSCOPE_REDACT": "employee_no,badge"},
			check: func(t *testing.T, c Config) {
				if !slices.Equal(c.Redact, []string{"employee_no", "badge", "dob", "mother maiden"}) {
					t.Fatalf("Redact %q", c.Redact)
				}
				ic := inspectorConfig(c, nil, nil).Tracker
				dc := dashboardConfig(c, nil)
				for _, name := range []string{"DOB", "motherMaiden", "employeeNo", "BADGE", "apiKey"} {
					if !ic.Redact.Sensitive(name) || !dc.Redact.Sensitive(name) {
						t.Errorf("%q not redacted in the tracker or the dashboard", name)
					}
				}
				if ic.Redact.Sensitive("city") {
					t.Error("city redacted")
				}
			}},
		{name: "watch takes it too", args: []string{"watch", "--redis", "redis://h/0", "--redact", "dob"},
			check: func(t *testing.T, c Config) {
				if !inspectorConfig(c, nil, nil).Tracker.Redact.Sensitive("dob") {
					t.Error("dob not redacted")
				}
			}},
		{name: "reveal values reaches search", args: []string{"serve", "--redis", "redis://h/0", "--reveal-values"},
			check: func(t *testing.T, c Config) {
				if !inspectorConfig(c, nil, nil).Tracker.RevealValues || !dashboardConfig(c, nil).RevealValues {
					t.Error("--reveal-values not passed to the tracker and the dashboard")
				}
			}},
		{name: "no letters", args: []string{"serve", "--redis", "redis://h/0", "--redact", "--"}, wantErr: `--redact "--"`},
		{name: "empty", args: []string{"serve", "--redis", "redis://h/0", "--redact", ""}, wantErr: `--redact ""`},
	} {
		t.Run(tc.name, func(t *testing.T) { checkParse(t, tc.args, tc.env, tc.check, tc.wantErr) })
	}
}
