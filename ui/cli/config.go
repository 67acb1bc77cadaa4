package cli

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/backend/files"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/export"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/lab"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/ui"
)

// Config is everything the command line and the environment can set. Each field's
// comment gives its flag, its environment fallback and its default.
type Config struct {
	Command string // watch, serve, analyze, lab or version (sessionscope alone is serve with Lab)

	RedisURL               string           // --redis, REDIS_URL
	Prefixes               []string         // --prefix NAME=PREFIX[:FORMAT], repeatable; SESSIONSCOPE_PREFIX (comma-separated)
	NoDefaultPrefixes      bool             // --no-default-prefixes: watch only the --prefix ones
	JSON                   bool             // --json, SESSIONSCOPE_JSON: NDJSON instead of lines
	RevealIDs              bool             // --reveal-ids, SESSIONSCOPE_REVEAL_IDS: print full session ids
	Redact                 []string         // --redact NAME, repeatable; SESSIONSCOPE_REDACT (comma-separated): names hidden besides model.SensitiveNames
	ConfigureNotifications bool             // --configure-notifications: merge missing flags with CONFIG SET
	ReadBudget             float64          // --read-budget, SESSIONSCOPE_READ_BUDGET: payload reads per second; default 1000
	MaxPayload             int              // --max-payload, SESSIONSCOPE_MAX_PAYLOAD: bytes read per payload; default 65536
	PayloadCacheMiB        int              // --payload-cache, SESSIONSCOPE_PAYLOAD_CACHE: MiB of decoded payloads kept; default 256
	HARBudgetMiB           int              // --har-budget, SESSIONSCOPE_HAR_BUDGET: MiB all HAR imports kept by the dashboard may hold; default 256
	Window                 time.Duration    // --window, SESSIONSCOPE_WINDOW: correlation window; default 300ms
	AuthMarkers            []string         // --auth-marker, repeatable; SESSIONSCOPE_AUTH_MARKERS (comma-separated); default the built-in list
	ScanCount              int64            // --scan-count: SCAN COUNT hint; default 1000
	ScanRate               float64          // --scan-rate, SESSIONSCOPE_SCAN_RATE: keys per second SCAN may walk per node; 0 no limit
	Mode                   string           // --mode auto|notify|poll: how changes are seen; default auto (poll when notifications are off and cannot be set)
	PollInterval           time.Duration    // --poll-interval: time between SCAN passes in poll mode; default 2s
	Cluster                bool             // --cluster: the Redis is a cluster node; default false: detected from INFO cluster
	Color                  string           // --color auto|always|never; default auto
	Verbose                bool             // --verbose: log sessionscope's own diagnostics to stderr
	history                *history.Store   // opened by run from History; nil: none
	HistoryCmd             HistoryCommand   // sessionscope history only
	History                HistoryOptions   // --history, --no-history, --history-max-size, --history-max-age (watch, serve, the lab; see HistoryOptions)
	Export                 ExportOptions    // --otlp-endpoint, --nodes (watch, serve; see ExportOptions)
	exporter               *export.Exporter // opened by run when Export.On; nil: none

	TLS redisstore.TLSOptions // --tls-ca, --tls-cert, --tls-key, --tls-server-name, --tls-insecure (rediss:// only); default: verify against the system roots

	Sentinel         string // --sentinel host:port,…: find the master through these sentinels; default none (--redis names the server)
	SentinelMaster   string // --master: the name the sentinels monitor the master under; required with --sentinel
	SentinelPassword string // --sentinel-password, REDIS_SENTINEL_PASSWORD: the sentinels' password; default none
	sentinel         redisstore.SentinelOptions

	// PHP file sessions (watch and serve), instead of --redis.
	Files         []string      // --files [LABEL=]DIR, repeatable: one PHP session.save_path per server
	GCMaxLifetime time.Duration // --gc-maxlifetime: the app's session.gc_maxlifetime; default 1440s
	fileDirs      []files.Dir   // parsed from Files by Validate

	// Reverse proxy capture (watch and serve).
	ProxyTo     []string // --proxy-to [NAME=]URL, repeatable: the app's upstream(s); NAME defaults to the URL's host:port
	ProxyListen string   // --proxy-listen, SESSIONSCOPE_PROXY_LISTEN: default 127.0.0.1:7080
	ProxyPublic bool     // --proxy-public: allow a --proxy-listen beyond loopback
	Sticky      bool     // --sticky: pin each client to one upstream (round-robin otherwise)
	ExchangeLog int      // --exchange-log: exchanges kept for the Requests screen and the API; default 10000
	HAROut      string   // --har-out FILE: also write every proxied exchange to a HAR 1.2 file; default none
	proxyOnly   []string // the proxy's own flags given on the command line, which mean nothing without --proxy-to

	// SessionCookies are custom session cookie names, --session-cookie NAME=FRAMEWORK,
	// repeatable (watch, serve, analyze); SESSIONSCOPE_SESSION_COOKIE (comma-separated).
	SessionCookies []string
	cookieMappings []framework.CookieMapping // parsed from SessionCookies by Validate

	// LoginPaths name the app's login page(s) for the login-loop rule, --login-path
	// PATH, repeatable (watch, serve, analyze): a path (/account/signin) or a
	// path.Match pattern (/*/login). Default: none, login URLs are guessed.
	LoginPaths []string

	proxyUpstreams []*url.URL // parsed from ProxyTo by Validate
	proxyNames     []string   // the upstreams' names, index for index; "" for the default

	// serve only.
	Listen       string   // --listen, SESSIONSCOPE_LISTEN: dashboard address; default 127.0.0.1:7070
	Token        string   // --token, SESSIONSCOPE_TOKEN: required to listen beyond loopback
	tokenMade    bool     // Token was generated for a network bind given none (checkToken)
	AllowedHosts []string // --allowed-host, repeatable: extra Host header values to accept
	RevealValues bool     // --reveal-values: show payload values whose key looks secret, and undecoded bytes

	// The training lab (serve --lab, and sessionscope with no command, which is serve
	// with the lab on the embedded store; lab run).
	Lab       bool   // --lab: run the lab app and show the Lab screen; RedisURL then stores the lab's sessions
	LabListen string // --lab-listen, SESSIONSCOPE_LAB_LISTEN: the lab app's address; default 127.0.0.1:7071 (lab run: a free port)

	// lab only.
	LabAction   string // list or run
	LabScenario string // lab run: the scenario id (positional)
	Fixed       bool   // lab run --fixed: run the scenario's fixed twin

	// analyze only.
	HARPath   string // the HAR file to analyze (positional; - for stdin)
	Exchanges bool   // --exchanges: with --json, print the exchanges too
	FailOn    string // --fail-on error|warning|info: exit 1 on a finding this severe or worse; default warning

	frameworks []framework.Framework // parsed from Prefixes by Validate
	// prefixNotes are the lines to tell the user about their --prefix rows (an empty
	// prefix, a builtin row replaced), one each; set by Validate, printed by run.
	prefixNotes []string
}

// errUsage marks errors that are the user's invocation, for exit status 2.
var errUsage = errors.New("usage")

// errHelp is returned when --help was asked for; it exits 0.
var errHelp = flag.ErrHelp

const usageText = `sessionscope shows what happens to a web app's sessions while it happens.

Usage:
  sessionscope [--redis URL] [flags]       the dashboard (127.0.0.1:7070) and the training lab app
                                           (127.0.0.1:7071), on an embedded store or in that Redis
  sessionscope watch --redis URL [flags]   stream session lifecycle events to the terminal
  sessionscope serve --redis URL [flags]   the live dashboard in the browser (127.0.0.1:7070);
                                           --lab adds the lab app, its sessions in that Redis
  sessionscope lab list                    the lab's scenarios
  sessionscope lab run ID [--fixed] [--json] [--redis URL]
                                           run one scenario (or its fixed twin) and print what
                                           watch would; exit 0 when it behaved as expected
  sessionscope analyze FILE.har [flags]    diagnose a browser's HAR export (- reads stdin):
                                           rejected or unsent session cookies, login loops
  sessionscope history [flags]             print the recorded history (--ref, --id, --rule, --from,
                                           --to, --json; --follow goes on live)
  sessionscope version                     the version and the revision it was built from (also --version)
  sessionscope help                        this text

Run 'sessionscope COMMAND --help' for a command's flags.
`

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// parseArgs turns argv (without the program name) into a Config.
func parseArgs(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	if len(args) == 0 || (strings.HasPrefix(args[0], "-") && !isHelp(args[0]) && !isVersion(args[0])) {
		// No command: the zero-setup default, the dashboard with the lab.
		return parseCommand("", args, getenv, stderr)
	}
	switch args[0] {
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stderr, usageText)
		return Config{}, errHelp
	case "version", "--version", "-version":
		return Config{Command: "version"}, checkVersionArgs(args[1:])
	case "watch", "serve":
		return parseCommand(args[0], args[1:], getenv, stderr)
	case "analyze":
		return parseAnalyze(args[1:], getenv, stderr)
	case "lab":
		return parseLab(args[1:], getenv, stderr)
	case "history":
		return parseHistory(args[1:], getenv, stderr)
	}
	return Config{}, fmt.Errorf("%w: unknown command %q; %s", errUsage, args[0], seeHelp(""))
}

// checkVersionArgs refuses arguments after version: they would be silently ignored.
func checkVersionArgs(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: version takes no arguments, got %s; %s", errUsage, strings.Join(args, " "), seeHelp(""))
	}
	return nil
}

const watchHelp = `Usage: sessionscope watch --redis URL [flags]

Streams session lifecycle events (created, updated, touched, regenerated, expired,
evicted, destroyed) from a Redis session store. Read-only: it never writes to Redis
unless --configure-notifications is given, and never uses KEYS or MONITOR.

Flags (environment fallbacks in brackets):
`

const serveHelp = `Usage: sessionscope serve --redis URL [flags]
       sessionscope serve [--redis URL] --lab [flags]

Serves the live dashboard (sessions, events, findings) on --listen, by default
127.0.0.1:7070. Listening beyond loopback requires --token. Read-only against Redis,
like watch. With --lab it also runs the training lab app on --lab-listen and the
Lab screen; the lab's sessions go to --redis (phpredis format), or to an embedded
store without it.

Flags (environment fallbacks in brackets):
`

const defaultHelp = `Usage: sessionscope [--redis URL] [flags]

With no command, sessionscope starts the dashboard on --listen (127.0.0.1:7070) and
the training lab app behind its proxy on --lab-listen (127.0.0.1:7071, also
localhost:7071), its sessions in an embedded store, or with --redis in that Redis
(phpredis format; REDIS_URL is not read here, so no flags always means no Redis).
Open the dashboard's Lab screen to run a scenario. Ctrl-C stops it.

Flags (environment fallbacks in brackets):
`

// isVersion reports whether arg asks for the version.
func isVersion(arg string) bool { return arg == "--version" || arg == "-version" }

// isHelp reports whether arg asks for the usage text.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "--help", "-help":
		return true
	}
	return false
}

// parseCommand parses watch and serve; command "" is sessionscope alone, which is
// serve with the lab.
func parseCommand(command string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg := Config{Command: command}
	help := watchHelp
	redisDefault := getenv("REDIS_URL")
	switch command {
	case "serve":
		help = serveHelp
	case "":
		// The default run is the zero-setup one: a REDIS_URL left in the environment
		// must not quietly turn it into an attach to some Redis.
		cfg.Command, cfg.Lab, help, redisDefault = "serve", true, defaultHelp, ""
	}
	fs, showHelp := quietFlagSet(cmp.Or(command, "sessionscope"), help, stderr)
	var prefixes, markers, hosts, proxyTo, sessionCookies stringList
	fs.StringVar(&cfg.RedisURL, "redis", redisDefault, "Redis `URL`: redis://[user:pass@]host:port/db, rediss://… (TLS) or unix:///path.sock?db=N [REDIS_URL]")
	fs.StringVar(&cfg.Sentinel, "sentinel", "", "find the master through Redis Sentinel: `host:port,…` (or redis://:PASSWORD@host:port entries), with --master; --redis then gives only the data nodes' credentials, db and TLS")
	fs.StringVar(&cfg.SentinelMaster, "master", "", "with --sentinel: the master's `name` (SENTINEL MASTERS lists them)")
	fs.StringVar(&cfg.SentinelPassword, "sentinel-password", getenv("REDIS_SENTINEL_PASSWORD"), "with --sentinel: the sentinels' `password`, when they require one (requirepass in sentinel.conf) [REDIS_SENTINEL_PASSWORD]")
	fs.StringVar(&cfg.TLS.CAFile, "tls-ca", "", "rediss://: PEM `file` of the CA that signed the Redis server's certificate (default: the system roots)")
	fs.StringVar(&cfg.TLS.CertFile, "tls-cert", "", "rediss://: client certificate PEM `file`, for servers that require one (with --tls-key)")
	fs.StringVar(&cfg.TLS.KeyFile, "tls-key", "", "rediss://: the client certificate's private key PEM `file`")
	fs.StringVar(&cfg.TLS.ServerName, "tls-server-name", "", "rediss://: the `name` the server's certificate must hold (default: the host in --redis)")
	fs.BoolVar(&cfg.TLS.Insecure, "tls-insecure", false, "rediss://: do not verify the server's certificate (warned on every start; use --tls-ca instead)")
	fs.BoolVar(&cfg.Cluster, "cluster", false, "--redis is a node of a Redis Cluster: watch every master (detected without the flag when INFO cluster is allowed)")
	var fileDirs stringList
	fs.Var(&fileDirs, "files", "watch PHP session files instead of Redis: session.save_path `[LABEL=]DIR`, repeatable, one per server (LABEL names the server in events)")
	cfg.GCMaxLifetime = files.DefaultGCMaxLifetime
	fs.Var(secondsFlag{&cfg.GCMaxLifetime}, "gc-maxlifetime", "with --files: the app's session.gc_maxlifetime in `seconds` (or a duration, 24m), from 1s to 10 years; an unlinked file older than this expired (PHP's GC), a younger one was destroyed")
	fs.Var(&prefixes, "prefix", "custom session prefix `NAME=PREFIX[:FORMAT]`, repeatable; formats: "+strings.Join(framework.FormatNames(), ", ")+" [SESSIONSCOPE_PREFIX, comma-separated]")
	fs.BoolVar(&cfg.NoDefaultPrefixes, "no-default-prefixes", false, "watch only the --prefix prefixes, not the built-in framework table")
	fs.BoolVar(&cfg.RevealIDs, "reveal-ids", envBool(getenv, "SESSIONSCOPE_REVEAL_IDS"), "show full session ids (they are bearer credentials) [SESSIONSCOPE_REVEAL_IDS]")
	var redact stringList
	fs.Var(&redact, "redact", redactUsage)
	fs.BoolVar(&cfg.ConfigureNotifications, "configure-notifications", false, "merge missing notify-keyspace-events flags into the server's config (a CONFIG SET; the only write sessionscope ever does)")
	fs.Float64Var(&cfg.ReadBudget, "read-budget", envFloat(getenv, "SESSIONSCOPE_READ_BUDGET", 1000), "payload reads per second, to protect the watched Redis: "+flagRanges["read-budget"]+" [SESSIONSCOPE_READ_BUDGET]")
	fs.IntVar(&cfg.MaxPayload, "max-payload", envInt(getenv, "SESSIONSCOPE_MAX_PAYLOAD", backend.DefaultMaxPayloadBytes), "bytes read per payload, "+flagRanges["max-payload"]+"; larger values are cut and shown as truncated [SESSIONSCOPE_MAX_PAYLOAD]")
	fs.IntVar(&cfg.PayloadCacheMiB, "payload-cache", envInt(getenv, "SESSIONSCOPE_PAYLOAD_CACHE", 256), "MiB of decoded payloads kept to compare the next write with, "+flagRanges["payload-cache"]+"; the least recently written go first [SESSIONSCOPE_PAYLOAD_CACHE]")
	fs.IntVar(&cfg.HARBudgetMiB, "har-budget", envInt(getenv, "SESSIONSCOPE_HAR_BUDGET", inspector.DefaultHARBudget>>20), "MiB that the HAR files imported into the dashboard may keep in memory together, "+flagRanges["har-budget"]+"; the oldest import is dropped first [SESSIONSCOPE_HAR_BUDGET]")
	fs.DurationVar(&cfg.Window, "window", envDuration(getenv, "SESSIONSCOPE_WINDOW", model.DefaultWindow), "correlation window joining a delete and a create into one regeneration, "+flagRanges["window"]+" [SESSIONSCOPE_WINDOW]")
	fs.Var(&markers, "auth-marker", "payload field that marks a logged-in session (glob or dotted path), repeatable; replaces the built-in list [SESSIONSCOPE_AUTH_MARKERS]")
	fs.Int64Var(&cfg.ScanCount, "scan-count", 1000, "SCAN COUNT hint for the inventory of existing sessions, "+flagRanges["scan-count"])
	fs.Float64Var(&cfg.ScanRate, "scan-rate", envFloat(getenv, "SESSIONSCOPE_SCAN_RATE", 0), "keys per second the inventory, re-inventories and poll passes may walk, per Redis node, to spare a busy Redis: "+flagRanges["scan-rate"]+" (as fast as Redis answers) [SESSIONSCOPE_SCAN_RATE]")
	fs.StringVar(&cfg.Mode, "mode", "auto", "how changes are seen: notify (keyspace notifications), poll (SCAN every --poll-interval and diff; lower fidelity) or auto (poll when notifications are off and cannot be set)")
	fs.DurationVar(&cfg.PollInterval, "poll-interval", 2*time.Second, "time between SCAN passes in poll mode, "+flagRanges["poll-interval"])
	fs.BoolVar(&cfg.Verbose, "verbose", false, "log sessionscope's own diagnostics to stderr")
	fs.Var(&proxyTo, "proxy-to", "sit in front of the app as a reverse proxy to this upstream `[NAME=]URL` and record every exchange, repeatable (several: round-robin); NAME labels it on screen (default its host:port)")
	fs.StringVar(&cfg.ProxyListen, "proxy-listen", envString(getenv, "SESSIONSCOPE_PROXY_LISTEN", "127.0.0.1:7080"), "`address` the proxy listens on; point the browser here [SESSIONSCOPE_PROXY_LISTEN]")
	fs.BoolVar(&cfg.ProxyPublic, "proxy-public", false, "allow --proxy-listen beyond loopback (0.0.0.0, a LAN address): anyone who reaches it reaches the app and has their session cookies recorded")
	fs.BoolVar(&cfg.Sticky, "sticky", false, "pin each client to one upstream by a cookie, as a load balancer's session affinity would")
	fs.StringVar(&cfg.HAROut, "har-out", "", "write every proxied exchange to this HAR `file` as it happens, to analyze later (sessionscope analyze FILE); needs --proxy-to. "+
		"The file holds live session cookies and ids unmasked: keep it private and use test accounts")
	fs.IntVar(&cfg.ExchangeLog, "exchange-log", envInt(getenv, "SESSIONSCOPE_EXCHANGE_LOG", 10000), "how many proxied exchanges to keep (about 1 KB each; bodies are never kept), "+flagRanges["exchange-log"]+" [SESSIONSCOPE_EXCHANGE_LOG]")
	fs.Var(&sessionCookies, "session-cookie", sessionCookieUsage)
	var loginPaths stringList
	fs.Var(&loginPaths, "login-path", loginPathUsage)
	historyFlags(fs, &cfg.History, getenv, "history")
	exportFlags(fs, &cfg.Export)
	cfg.Color = "auto"
	if command == "watch" {
		fs.BoolVar(&cfg.JSON, "json", envBool(getenv, "SESSIONSCOPE_JSON"), "print NDJSON, one object per line [SESSIONSCOPE_JSON]")
		fs.StringVar(&cfg.Color, "color", "auto", "colour the lines: auto (on a terminal), always or never")
	} else {
		fs.StringVar(&cfg.Listen, "listen", envString(getenv, "SESSIONSCOPE_LISTEN", "127.0.0.1:7070"), "dashboard `address`; beyond loopback it needs --token [SESSIONSCOPE_LISTEN]")
		fs.StringVar(&cfg.Token, "token", getenv("SESSIONSCOPE_TOKEN"), "access token for the dashboard, its API and websocket, at least 16 characters; generated and printed once for a network --listen without one [SESSIONSCOPE_TOKEN]")
		fs.Var(&hosts, "allowed-host", "extra Host header `name` to accept (behind a proxy or a DNS name), repeatable")
		fs.BoolVar(&cfg.RevealValues, "reveal-values", envBool(getenv, "SESSIONSCOPE_REVEAL_VALUES"), "show payload values whose key looks secret (password, token, csrf, ...) and the bytes of payloads that are not decoded [SESSIONSCOPE_REVEAL_VALUES]")
		if !cfg.Lab {
			fs.BoolVar(&cfg.Lab, "lab", false, "also run the training lab app on --lab-listen and the Lab screen; its sessions go to --redis, or to an embedded store without it")
		}
		fs.StringVar(&cfg.LabListen, "lab-listen", envString(getenv, "SESSIONSCOPE_LAB_LISTEN", DefaultLabListen), "`address` of the lab app (through sessionscope's proxy), loopback only [SESSIONSCOPE_LAB_LISTEN]")
	}
	if err := parseFlags(fs, args, command, showHelp); err != nil {
		return cfg, err
	}
	if err := checkNumericEnv(fs, getenv); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: unexpected argument %q; flags come as --name value; %s", errUsage, fs.Arg(0), seeHelp(command))
	}
	cfg.Prefixes = append(splitList(getenv("SESSIONSCOPE_PREFIX")), prefixes...)
	cfg.AuthMarkers = splitList(getenv("SESSIONSCOPE_AUTH_MARKERS"))
	if len(markers) > 0 {
		cfg.AuthMarkers = markers
	}
	cfg.AllowedHosts = hosts
	cfg.ProxyTo = proxyTo
	cfg.Files = fileDirs
	redisSet, historySet := false, false
	fs.Visit(func(f *flag.Flag) {
		redisSet = redisSet || f.Name == "redis"
		historySet = historySet || f.Name == "history"
		switch f.Name {
		case "proxy-listen", "proxy-public", "sticky":
			cfg.proxyOnly = append(cfg.proxyOnly, f.Name)
		}
	})
	if cfg.Lab && !historySet {
		cfg.History.Path = defaultHistoryPath(getenv, "lab") // the lab's sessions apart from a watched store's
	}
	if len(cfg.Files) > 0 && !redisSet {
		cfg.RedisURL = "" // a REDIS_URL in the environment does not turn --files into a Redis attach
	}
	cfg.SessionCookies = append(splitList(getenv("SESSIONSCOPE_SESSION_COOKIE")), sessionCookies...)
	cfg.Redact = append(splitList(getenv("SESSIONSCOPE_REDACT")), redact...)
	cfg.LoginPaths = loginPaths
	cfg.Export.On = exportOn(cfg.Export.Endpoint, getenv)
	return cfg, cfg.Validate()
}

const analyzeHelp = `Usage: sessionscope analyze FILE.har [flags]

Replays a HAR export (Chrome, Firefox; - reads stdin) through a model of the
browser's cookie rules and reports why a session did not stick: session cookies
the browser refused (cookie-rejected) or did not send back (cookie-not-sent), and
login loops with their root cause. Exit status: 0 clean, 1 a finding at or above
--fail-on, 2 unreadable HAR or bad usage.

Flags:
`

// parseInterspersed parses flags that may come before, between or after the
// positional arguments, which it returns in order.
func parseInterspersed(fs *flag.FlagSet, args []string, command string, showHelp func()) ([]string, error) {
	var positional []string
	for {
		if err := parseFlags(fs, args, command, showHelp); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseAnalyze parses `analyze FILE.har [flags]`; flags may come before or after
// the file.
func parseAnalyze(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg := Config{Command: "analyze", Color: "auto", FailOn: "warning"}
	fs, showHelp := quietFlagSet("analyze", analyzeHelp, stderr)
	fs.BoolVar(&cfg.JSON, "json", envBool(getenv, "SESSIONSCOPE_JSON"), "print NDJSON: one `type: finding` object per line [SESSIONSCOPE_JSON]")
	fs.BoolVar(&cfg.Exchanges, "exchanges", false, "print the HAR's exchanges too (cookie values and session ids masked)")
	fs.StringVar(&cfg.FailOn, "fail-on", "warning", "exit 1 when a finding is this severe or worse: error, warning or info")
	fs.StringVar(&cfg.Color, "color", "auto", "colour the lines: auto (on a terminal), always or never")
	var sessionCookies stringList
	fs.Var(&sessionCookies, "session-cookie", sessionCookieUsage)
	var redact stringList
	fs.Var(&redact, "redact", redactUsage)
	var loginPaths stringList
	fs.Var(&loginPaths, "login-path", loginPathUsage)
	positional, err := parseInterspersed(fs, args, "analyze", showHelp)
	if err != nil {
		return cfg, err
	}
	switch len(positional) {
	case 0:
		return cfg, fmt.Errorf("%w: analyze needs a HAR file, e.g. sessionscope analyze login.har (or - for stdin)", errUsage)
	case 1:
		cfg.HARPath = positional[0]
	default:
		return cfg, fmt.Errorf("%w: analyze takes one HAR file, got %d: %s", errUsage, len(positional), strings.Join(positional, " "))
	}
	cfg.SessionCookies = append(splitList(getenv("SESSIONSCOPE_SESSION_COOKIE")), sessionCookies...)
	cfg.Redact = append(splitList(getenv("SESSIONSCOPE_REDACT")), redact...)
	cfg.LoginPaths = loginPaths
	return cfg, cfg.Validate()
}

const loginPathUsage = "the app's login page `PATH` (or a pattern, /*/login), repeatable: the login-loop rule takes a redirect there, or its login form served in a page's place, as \"not logged in\" (default: paths with login, signin, auth or session in them)"

// validateLoginPaths checks --login-path: an absolute path or a path.Match pattern.
func (c *Config) validateLoginPaths() error {
	for _, p := range c.LoginPaths {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("%w: --login-path %q: want a path from the root, e.g. --login-path /account/signin", errUsage, p)
		}
		if _, err := path.Match(p, "/"); err != nil {
			return fmt.Errorf("%w: --login-path %q: not a valid pattern (%v); want a path such as /login or a pattern such as /account/*", errUsage, p, err)
		}
	}
	return nil
}

const redactUsage = "also hide the values of payload fields and URL parameters with this `name`, and never search them (case, '_', '-' and camelCase ignored), repeatable [SESSIONSCOPE_REDACT, comma-separated]"

// validateRedact checks the --redact names: each must hold a letter or a digit to
// name anything once normalised.
func (c *Config) validateRedact() error {
	for _, n := range c.Redact {
		if !strings.ContainsFunc(n, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			return fmt.Errorf("%w: --redact %q: a name needs a letter or a digit", errUsage, n)
		}
	}
	return nil
}

// DefaultLabListen is where the lab app listens unless told otherwise (loopback only;
// localhost:7071 reaches it too, which the cross-host cookie scenarios use).
const DefaultLabListen = "127.0.0.1:7071"

const labHelp = `Usage: sessionscope lab list
       sessionscope lab run ID [--fixed] [--json] [--redis URL]

list prints the training lab's scenarios: id, title and the findings each one yields.
run starts a lab of its own (on a free port unless --lab-listen), drives the scenario
with the virtual browser and prints its events, exchanges and findings as watch does,
then a summary. Exit status: 0 when exactly the expected findings appeared (with
--fixed: none of them), 1 when not, 2 for bad usage or an unknown id.

Flags:
`

// parseLab parses lab list and lab run ID [flags]; flags may come before or after the id.
func parseLab(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg := Config{Command: "lab", Color: "auto", ReadBudget: 1000, MaxPayload: backend.DefaultMaxPayloadBytes, Window: model.DefaultWindow, ScanCount: 1000}
	fs, showHelp := quietFlagSet("lab", labHelp, stderr)
	fs.BoolVar(&cfg.Fixed, "fixed", false, "run: the scenario's fixed twin, which must run clean")
	fs.BoolVar(&cfg.JSON, "json", envBool(getenv, "SESSIONSCOPE_JSON"), "run: print NDJSON, one object per line, as watch --json (the summary goes to stderr) [SESSIONSCOPE_JSON]")
	fs.StringVar(&cfg.RedisURL, "redis", "", "run: store the lab's sessions in this Redis `URL` (phpredis format) instead of an embedded store; REDIS_URL is not read")
	fs.StringVar(&cfg.LabListen, "lab-listen", "127.0.0.1:0", "run: `address` of the lab app; by default a free loopback port, so a running sessionscope is not disturbed")
	fs.StringVar(&cfg.Color, "color", "auto", "run: colour the lines: auto (on a terminal), always or never")
	fs.BoolVar(&cfg.RevealIDs, "reveal-ids", false, "run: show full session ids")
	fs.BoolVar(&cfg.Verbose, "verbose", false, "log sessionscope's own diagnostics to stderr")
	positional, err := parseInterspersed(fs, args, "lab", showHelp)
	if err != nil {
		return cfg, err
	}
	if len(positional) == 0 {
		return cfg, fmt.Errorf("%w: lab needs list or run ID, e.g. sessionscope lab run cookie-path-mismatch; %s", errUsage, seeHelp("lab"))
	}
	cfg.LabAction = positional[0]
	switch {
	case cfg.LabAction == "list" && len(positional) == 1:
	case cfg.LabAction == "list":
		return cfg, fmt.Errorf("%w: lab list takes no argument, got %s", errUsage, strings.Join(positional[1:], " "))
	case cfg.LabAction == "run" && len(positional) == 2:
		cfg.LabScenario = positional[1]
	case cfg.LabAction == "run" && len(positional) == 1:
		return cfg, fmt.Errorf("%w: lab run needs a scenario id; sessionscope lab list shows them", errUsage)
	case cfg.LabAction == "run":
		return cfg, fmt.Errorf("%w: lab run takes one scenario id, got %d: %s", errUsage, len(positional)-1, strings.Join(positional[1:], " "))
	default:
		return cfg, fmt.Errorf("%w: unknown lab command %q: use lab list or lab run ID; %s", errUsage, cfg.LabAction, seeHelp("lab"))
	}
	return cfg, cfg.Validate()
}

func (c *Config) validateLab() error {
	switch c.Color {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("%w: --color %q: want auto, always or never", errUsage, c.Color)
	}
	if c.LabAction != "run" {
		return nil
	}
	s, ok := lab.Find(c.LabScenario)
	if !ok {
		return fmt.Errorf("%w: unknown lab scenario %q: sessionscope lab list shows them", errUsage, c.LabScenario)
	}
	if err := checkRedisURL(c.RedisURL); err != nil {
		return err
	}
	if s.NeedsRedis && c.RedisURL == "" {
		return fmt.Errorf("%w: lab scenario %s needs a real Redis: add --redis URL (its sessions go there, in phpredis format)", errUsage, s.ID)
	}
	if err := checkLabListen(c.LabListen); err != nil {
		return err
	}
	c.frameworks = framework.Builtin()
	return nil
}

// checkLabListen keeps the lab on loopback: it is a deliberately broken login app.
func checkLabListen(addr string) error {
	if err := checkBindAddress("lab-listen", addr, DefaultLabListen); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(addr)
	if !loopbackHost(host) {
		return fmt.Errorf("%w: --lab-listen %s: the lab is a deliberately broken login app and listens on loopback only, e.g. %s", errUsage, addr, DefaultLabListen)
	}
	return nil
}

func envString(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// Validate checks the configuration and names the offending flag.
func (c *Config) Validate() error {
	if c.Command == "analyze" {
		return c.validateAnalyze()
	}
	if c.Command == "lab" {
		return c.validateLab()
	}
	if err := c.validateNumbers(); err != nil {
		return err
	}
	if err := checkRedisURL(c.RedisURL); err != nil {
		return err
	}
	if err := c.validateFiles(); err != nil {
		return err
	}
	if err := c.validateSentinel(); err != nil {
		return err
	}
	if err := c.validateRedact(); err != nil {
		return err
	}
	if err := c.validateExport(); err != nil {
		return err
	}
	if c.RedisURL == "" && !c.Lab && len(c.Files) == 0 && c.Sentinel == "" {
		if c.Command == "serve" {
			return fmt.Errorf("%w: --redis is required (or set REDIS_URL), e.g. --redis redis://127.0.0.1:6379/0; or add --lab for the training lab on an embedded store (or run sessionscope with no arguments)", errUsage)
		}
		return fmt.Errorf("%w: --redis is required (or set REDIS_URL), e.g. --redis redis://127.0.0.1:6379/0", errUsage)
	}
	if c.Lab {
		if c.TLS != (redisstore.TLSOptions{}) {
			// The lab's own session client connects with the URL alone.
			return fmt.Errorf("%w: the --tls-* flags are for watching an app's Redis (watch, or serve without --lab), not the lab's: for the lab use rediss:// with a certificate the system trusts", errUsage)
		}
		if len(c.ProxyTo) > 0 {
			return fmt.Errorf("%w: --proxy-to cannot be combined with the lab, which sits behind its own proxy on --lab-listen; run the lab and your app in two sessionscopes", errUsage)
		}
		if err := checkLabListen(c.LabListen); err != nil {
			return err
		}
	}
	if c.Cluster && c.Mode == "poll" {
		return fmt.Errorf("%w: --cluster cannot be combined with --mode poll yet: enable keyspace notifications on every master and use --mode notify", errUsage)
	}
	switch c.Mode {
	case "", "auto", "notify", "poll":
	default:
		return fmt.Errorf("%w: --mode %q: want auto, notify or poll", errUsage, c.Mode)
	}
	switch c.Color {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("%w: --color %q: want auto, always or never", errUsage, c.Color)
	}
	if c.Command == "serve" {
		if err := checkBindAddress("listen", c.Listen, ui.DefaultListen); err != nil {
			return err
		}
		if err := c.checkToken(); err != nil {
			return err
		}
		if err := ui.CheckBind(c.Listen, c.Token); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	if err := c.parseProxyTo(); err != nil {
		return err
	}
	if len(c.ProxyTo) > 0 {
		if err := c.checkProxyListen(); err != nil {
			return err
		}
	}
	if len(c.proxyOnly) > 0 && len(c.ProxyTo) == 0 {
		// Said at once: ignored, the user would point a browser at a proxy that never started.
		return fmt.Errorf("%w: --%s needs --proxy-to URL: the proxy starts only in front of an app", errUsage, c.proxyOnly[0])
	}
	if c.HAROut != "" && len(c.ProxyTo) == 0 {
		return fmt.Errorf("%w: --har-out %s needs --proxy-to: only proxied traffic is captured", errUsage, c.HAROut)
	}
	if err := c.parseSessionCookies(); err != nil {
		return err
	}
	if err := c.validateLoginPaths(); err != nil {
		return err
	}
	c.frameworks, c.prefixNotes = nil, nil
	if !c.NoDefaultPrefixes {
		c.frameworks = framework.Builtin()
	}
	for _, p := range c.Prefixes {
		fw, err := framework.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if w := fw.Warning(); w != "" {
			c.prefixNotes = append(c.prefixNotes, w)
		}
		if !c.NoDefaultPrefixes {
			var replaced []string
			for _, b := range framework.Builtin() {
				if b.Prefix == fw.Prefix && b.Name != fw.Name && !slices.Contains(replaced, b.Name) {
					replaced = append(replaced, b.Name)
				}
			}
			if len(replaced) > 0 {
				c.prefixNotes = append(c.prefixNotes, fmt.Sprintf("--prefix %s=%s: keys under %s are read as %s sessions, not as %s (built in)",
					fw.Name, fw.Prefix, fw.Prefix, fw.Name, strings.Join(replaced, " or ")))
			}
		}
		c.frameworks = append(c.frameworks, fw)
	}
	if len(c.Files) > 0 {
		c.frameworks = append(c.frameworks, framework.PHPFiles())
	}
	if len(c.frameworks) == 0 {
		return fmt.Errorf("%w: --no-default-prefixes needs at least one --prefix", errUsage)
	}
	return nil
}

func (c *Config) validateAnalyze() error {
	if c.HARPath == "" {
		return fmt.Errorf("%w: analyze needs a HAR file (or - for stdin)", errUsage)
	}
	if err := c.parseSessionCookies(); err != nil {
		return err
	}
	if err := c.validateRedact(); err != nil {
		return err
	}
	if err := c.validateLoginPaths(); err != nil {
		return err
	}
	switch c.FailOn {
	case "error", "warning", "info":
	default:
		return fmt.Errorf("%w: --fail-on %q: want error, warning or info", errUsage, c.FailOn)
	}
	switch c.Color {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("%w: --color %q: want auto, always or never", errUsage, c.Color)
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func envBool(getenv func(string) string, name string) bool {
	b, _ := strconv.ParseBool(getenv(name))
	return b
}

func envFloat(getenv func(string) string, name string, def float64) float64 {
	if f, err := strconv.ParseFloat(getenv(name), 64); err == nil {
		return f
	}
	return def
}

func envInt(getenv func(string) string, name string, def int) int {
	if n, err := strconv.Atoi(getenv(name)); err == nil {
		return n
	}
	return def
}

func envDuration(getenv func(string) string, name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(getenv(name)); err == nil {
		return d
	}
	return def
}

const sessionCookieUsage = "custom session cookie `NAME=FRAMEWORK` (framework: php, express, spring, django, rails, flask, gorilla, ... as in the framework table), repeatable [SESSIONSCOPE_SESSION_COOKIE, comma-separated]"

// parseSessionCookies checks --session-cookie NAME=FRAMEWORK against the framework
// table, since the framework decides how the cookie value becomes a store id.
func (c *Config) parseSessionCookies() error {
	c.cookieMappings = nil
	for _, spec := range c.SessionCookies {
		name, fw, ok := strings.Cut(spec, "=")
		name, fw = strings.TrimSpace(name), strings.TrimSpace(fw)
		if !ok || name == "" || fw == "" {
			return fmt.Errorf("%w: --session-cookie %q: want NAME=FRAMEWORK, e.g. --session-cookie myapp_sid=express", errUsage, spec)
		}
		if !framework.Known(fw) {
			return fmt.Errorf("%w: --session-cookie %q: unknown framework %q; known: %s", errUsage, spec, fw, strings.Join(framework.Names(), ", "))
		}
		c.cookieMappings = append(c.cookieMappings, framework.CookieMapping{CookieName: name, Framework: fw})
	}
	return nil
}

// validateFiles checks --files and --gc-maxlifetime (watch and serve).
func (c *Config) validateFiles() error {
	c.fileDirs = nil
	if len(c.Files) == 0 {
		return nil
	}
	if c.Lab {
		return fmt.Errorf("%w: --files cannot be combined with the lab, which keeps its sessions in an embedded store or in --redis; run sessionscope watch --files DIR", errUsage)
	}
	if c.RedisURL != "" {
		return fmt.Errorf("%w: --files and --redis name two stores and sessionscope watches one; run one sessionscope for each", errUsage)
	}
	if c.GCMaxLifetime <= 0 {
		return fmt.Errorf("%w: --gc-maxlifetime %s: want the app's session.gc_maxlifetime, a positive number of seconds (default 1440)", errUsage, c.GCMaxLifetime)
	}
	for _, spec := range c.Files {
		if spec == "" {
			return fmt.Errorf("%w: --files needs a directory, e.g. --files /var/lib/php/sessions or --files web1=/mnt/web1/sessions", errUsage)
		}
		c.fileDirs = append(c.fileDirs, files.ParseDir(spec))
	}
	return nil
}

// validateSentinel checks --sentinel, --master and --sentinel-password.
func (c *Config) validateSentinel() error {
	if c.Sentinel == "" {
		if c.SentinelMaster != "" {
			return fmt.Errorf("%w: --master names a master monitored by Sentinel: add --sentinel host:port,…", errUsage)
		}
		return nil
	}
	if c.Lab || len(c.Files) > 0 {
		return fmt.Errorf("%w: --sentinel watches an app's Redis: it cannot be combined with the lab or --files", errUsage)
	}
	so, err := redisstore.ParseSentinels(c.Sentinel)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	for _, addr := range so.Addrs {
		if _, port, _ := net.SplitHostPort(addr); !validPort(port, 1) {
			return fmt.Errorf("%w: --sentinel entry %q: the port must be a number from 1 to 65535, e.g. 10.0.0.5:26379", errUsage, addr)
		}
	}
	if c.SentinelMaster == "" {
		return fmt.Errorf("%w: --sentinel needs --master NAME, the name the sentinels monitor the master under (redis-cli -p 26379 SENTINEL MASTERS lists them)", errUsage)
	}
	so.Master = c.SentinelMaster
	if c.SentinelPassword != "" {
		so.Password = c.SentinelPassword
	}
	c.sentinel = so
	return nil
}

// secondsFlag is a duration flag that also takes plain seconds, as php.ini does
// (session.gc_maxlifetime = 1440).
type secondsFlag struct{ d *time.Duration }

func (f secondsFlag) String() string {
	if f.d == nil {
		return ""
	}
	return strconv.FormatInt(int64(*f.d/time.Second), 10)
}

func (f secondsFlag) Set(v string) error {
	want := errors.New("want " + flagRanges["gc-maxlifetime"])
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		// Checked before multiplying: 99999999999999 seconds overflows a Duration.
		if n < 1 || n > int64(maxGCMaxLifetime/time.Second) {
			return want
		}
		*f.d = time.Duration(n) * time.Second
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second || d > maxGCMaxLifetime {
		return want
	}
	*f.d = d
	return nil
}

// parseProxyTo reads each --proxy-to [NAME=]URL into proxyUpstreams and proxyNames.
func (c *Config) parseProxyTo() error {
	c.proxyUpstreams, c.proxyNames = nil, nil
	seen := map[string]bool{}
	for _, raw := range c.ProxyTo {
		name, rawURL := "", raw
		if n, rest, ok := strings.Cut(raw, "="); ok && !strings.ContainsAny(n, ":/?#") {
			name, rawURL = n, rest
			if !validUpstreamName(name) {
				return fmt.Errorf("%w: --proxy-to %q: NAME must be 1 to 40 letters, digits, '.', '_' or '-', e.g. --proxy-to app=http://127.0.0.1:8080", errUsage, raw)
			}
		}
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: --proxy-to %q: want the app's base URL or NAME=URL, e.g. --proxy-to http://127.0.0.1:8080 or --proxy-to app=http://127.0.0.1:8080", errUsage, raw)
		}
		if u.Port() != "" && !validPort(u.Port(), 1) {
			return fmt.Errorf("%w: --proxy-to %q: the port must be a number from 1 to 65535, e.g. --proxy-to http://127.0.0.1:8080", errUsage, raw)
		}
		if name != "" && seen[name] {
			return fmt.Errorf("%w: --proxy-to %q: the name %s is given to another upstream; name each one differently, e.g. --proxy-to app1=URL --proxy-to app2=URL", errUsage, raw, name)
		}
		seen[name] = true
		c.proxyUpstreams = append(c.proxyUpstreams, u)
		c.proxyNames = append(c.proxyNames, name)
	}
	return nil
}

// validUpstreamName reports whether s can name an upstream: short, and plain enough
// to read in a lane header and type on a command line.
func validUpstreamName(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
