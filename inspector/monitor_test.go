package inspector_test

import (
	"bufio"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
)

// What the real-app tests share to hold sessionscope against what Redis really ran:
// a MONITOR recorder, the parser of its lines, and the candidates of an event.
// sessionscope never uses MONITOR; the tests do, to know what the apps really sent.

// monitoredCommand is one command Redis ran, as MONITOR reported it.
type monitoredCommand struct {
	Name string   // upper case: SETEX, DEL, ...
	Args []string // the arguments after the name, the key first
}

// monitorRecorder records every command a Redis server runs, in the order it ran
// them, through MONITOR on a connection of its own.
type monitorRecorder struct {
	t        *testing.T
	commands *trackertest.Recorder[monitoredCommand]
}

// startMonitor opens a raw MONITOR connection to the Redis at addr and records what
// it reports until the test ends. The connection is raw because go-redis' MonitorCmd
// has a start/stop protocol of its own, and MONITOR's reply is just a stream of
// status lines.
func startMonitor(t *testing.T, addr string) *monitorRecorder {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("monitor: %v", err)
	}
	r := bufio.NewReader(conn)
	if _, err := conn.Write([]byte("*1\r\n$7\r\nMONITOR\r\n")); err != nil {
		t.Fatalf("monitor: %v", err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("monitor: MONITOR answered %q, %v", line, err)
	}
	m := &monitorRecorder{t: t, commands: trackertest.NewRecorder[monitoredCommand]()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return // the connection was closed at cleanup
			}
			c, err := parseMonitoredCommand(strings.TrimSuffix(line, "\r\n"))
			if err != nil {
				t.Errorf("monitor: %v", err)
				return
			}
			m.commands.Add(c)
		}
	}()
	t.Cleanup(func() { _ = conn.Close(); <-done })
	return m
}

// through runs a marker command (name, then marker as its first argument, then rest)
// through h's client, waits until MONITOR shows it, and returns every command MONITOR
// listed before it. Redis runs commands one at a time and MONITOR lists them in that
// order, so everything that ran before the marker is in the list. marker must be a
// string no app sends.
func (m *monitorRecorder) through(h *harness, name, marker string, rest ...any) []monitoredCommand {
	m.t.Helper()
	h.do(append([]any{name, marker}, rest...)...)
	_, at := m.commands.Wait(m.t, "MONITOR line of the marker "+name+" "+marker, func(c monitoredCommand) bool {
		return c.Name == name && len(c.Args) > 0 && c.Args[0] == marker
	})
	return m.commands.All()[:at]
}

// parseMonitoredCommand reads `+1700000000.123456 [0 127.0.0.1:51234] "SETEX" "key" ...`
// into the command it reports, undoing the quoting Redis' sdscatrepr writes
// (\\ \" \n \r \t \a \b \xHH).
func parseMonitoredCommand(line string) (monitoredCommand, error) {
	_, rest, ok := strings.Cut(line, "] ")
	if !ok {
		return monitoredCommand{}, fmt.Errorf("monitor line %q: no client field", line)
	}
	var args []string
	for i := 0; i < len(rest); {
		if rest[i] == ' ' {
			i++
			continue
		}
		if rest[i] != '"' {
			return monitoredCommand{}, fmt.Errorf("monitor line %q: argument at %d is not quoted", line, i)
		}
		var b strings.Builder
		i++
		for {
			if i >= len(rest) {
				return monitoredCommand{}, fmt.Errorf("monitor line %q: unterminated argument", line)
			}
			ch := rest[i]
			if ch == '"' {
				i++
				break
			}
			if ch != '\\' || i+1 >= len(rest) {
				b.WriteByte(ch)
				i++
				continue
			}
			switch esc := rest[i+1]; esc {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'x':
				if i+3 >= len(rest) {
					return monitoredCommand{}, fmt.Errorf("monitor line %q: short \\x escape", line)
				}
				v, err := strconv.ParseUint(rest[i+2:i+4], 16, 8)
				if err != nil {
					return monitoredCommand{}, fmt.Errorf("monitor line %q: bad \\x escape: %w", line, err)
				}
				b.WriteByte(byte(v))
				i += 2
			default: // \\ and \"
				b.WriteByte(esc)
			}
			i += 2
		}
		args = append(args, b.String())
	}
	if len(args) == 0 {
		return monitoredCommand{}, fmt.Errorf("monitor line %q: no command", line)
	}
	return monitoredCommand{Name: strings.ToUpper(args[0]), Args: args[1:]}, nil
}

func TestParseMonitoredCommand(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       monitoredCommand // zero when the line must not parse
	}{
		{"phpredis setex", `1796607186.861827 [0 127.0.0.1:59084] "SETEX" "PHPREDIS_SESSION:7pg" "1440" "csrf|s:16:\"d6115bb3\";"`,
			monitoredCommand{"SETEX", []string{"PHPREDIS_SESSION:7pg", "1440", `csrf|s:16:"d6115bb3";`}}},
		{"lower case name", `1796607211.333150 [0 127.0.0.1:44766] "get" "rack:session:2::60fa"`,
			monitoredCommand{"GET", []string{"rack:session:2::60fa"}}},
		{"status-line plus, escapes", `+1796607211.333150 [0 127.0.0.1:44766] "setex" "k" "7200" "\x04\b{\x06I\"\tcart\\"`,
			monitoredCommand{"SETEX", []string{"k", "7200", "\x04\b{\x06I\"\tcart\\"}}},
		{"lua, space in an argument", `1796607211.333150 [0 lua] "DEL" "a b"`, monitoredCommand{"DEL", []string{"a b"}}},
		{"backslash, bytes", `1.0 [0 lua] "del" "a\\b" "\x00\xff\n"`, monitoredCommand{"DEL", []string{`a\b`, "\x00\xff\n"}}},
		{"unix socket, no arguments", `1.0 [0 unix:/tmp/r.sock] "PING"`, monitoredCommand{"PING", []string{}}},
		{"status reply", `OK`, monitoredCommand{}},
		{"unterminated", `1.0 [0 x] "unterminated`, monitoredCommand{}},
		{"unquoted", `1.0 [0 x] GET`, monitoredCommand{}},
		{"short hex escape", `1.0 [0 x] "\x4"`, monitoredCommand{}},
		{"no command", `1.0 [0 x] `, monitoredCommand{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMonitoredCommand(tc.line)
			wantOK := tc.want.Name != ""
			if (err == nil) != wantOK || got.Name != tc.want.Name || !slices.Equal(got.Args, tc.want.Args) {
				t.Errorf("parseMonitoredCommand(%q) = %+v, %v; want %+v (parses: %v)", tc.line, got, err, tc.want, wantOK)
			}
		})
	}
}

// eventCandidateRefs lists the refs of the sessions an unlinked birth names as its
// possible predecessors.
func eventCandidateRefs(e *model.Event) []string {
	var out []string
	for _, c := range e.Candidates {
		out = append(out, c.Ref)
	}
	return out
}
