package cli

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
)

// The bounds of the numeric flags. Each keeps a value sessionscope can act on: no
// NaN or infinity, no rate so small the inventory never ends, no size or count that
// overflows or asks the machine (or the watched Redis) for more than it can give.
const (
	maxReadBudget    = 1_000_000   // payload reads per second
	maxPayloadBytes  = 64 << 20    // 64 MiB read per payload
	minPayloadBytes  = 64          // less shows nothing useful
	maxPayloadCache  = 1 << 20     // MiB (1 TiB): any real machine runs out first
	maxHARBudget     = 1 << 20     // MiB, as --payload-cache
	maxScanCount     = 100_000     // Redis answers a bigger COUNT with one long, blocking SCAN
	maxScanRate      = 10_000_000  // keys per second; faster than any Redis walks
	maxExchangeLog   = 1_000_000   // about 1 GB at 1 KB an exchange
	maxWindow        = time.Minute // correlation window
	minPollInterval  = 100 * time.Millisecond
	maxPollInterval  = time.Hour
	maxGCMaxLifetime = 10 * 365 * 24 * time.Hour // ten years; PHP's own maximum is an int of seconds
)

// flagRanges says, for each numeric flag, what it accepts: the text of the usage
// error, of the help and of the README's flag table.
var flagRanges = map[string]string{
	"read-budget":    fmt.Sprintf("1 to %d reads per second, or -1 for no limit", maxReadBudget),
	"max-payload":    fmt.Sprintf("%d to %d bytes (64 MiB)", minPayloadBytes, maxPayloadBytes),
	"payload-cache":  fmt.Sprintf("1 to %d MiB", maxPayloadCache),
	"har-budget":     fmt.Sprintf("1 to %d MiB", maxHARBudget),
	"window":         "a duration from 1ms to 1m",
	"scan-count":     fmt.Sprintf("1 to %d", maxScanCount),
	"scan-rate":      fmt.Sprintf("1 to %d keys per second, or 0 for no limit", maxScanRate),
	"poll-interval":  "a duration from 100ms to 1h",
	"gc-maxlifetime": fmt.Sprintf("seconds (1440) or a duration (24m), from 1s to 10 years (%d seconds)", int64(maxGCMaxLifetime/time.Second)),
	"exchange-log":   fmt.Sprintf("1 to %d exchanges", maxExchangeLog),
}

// rangeError is the usage error for a numeric flag outside its range: one line naming
// the flag, the value given and what it accepts.
func rangeError(name string, value any) error {
	return fmt.Errorf("%w: --%s %v: want %s", errUsage, name, value, flagRanges[name])
}

// finiteIn reports whether f is a number (not NaN or infinite) within [lo, hi].
func finiteIn(f, lo, hi float64) bool {
	return !math.IsNaN(f) && f >= lo && f <= hi
}

// validateNumbers checks every numeric flag of watch and serve against its range.
// A negative --read-budget keeps its documented meaning, no limit, and is stored as
// -1, the value the metrics and the status screen show for it.
func (c *Config) validateNumbers() error {
	switch {
	case c.ReadBudget < 0 && !math.IsInf(c.ReadBudget, -1):
		c.ReadBudget = -1
	case !finiteIn(c.ReadBudget, 1, maxReadBudget):
		return rangeError("read-budget", c.ReadBudget)
	}
	if c.MaxPayload < minPayloadBytes || c.MaxPayload > maxPayloadBytes {
		return rangeError("max-payload", c.MaxPayload)
	}
	if c.PayloadCacheMiB < 1 || c.PayloadCacheMiB > maxPayloadCache {
		return rangeError("payload-cache", c.PayloadCacheMiB)
	}
	if c.HARBudgetMiB < 1 || c.HARBudgetMiB > maxHARBudget {
		return rangeError("har-budget", c.HARBudgetMiB)
	}
	if c.Window < time.Millisecond || c.Window > maxWindow {
		return rangeError("window", c.Window)
	}
	if c.ScanCount < 1 || c.ScanCount > maxScanCount {
		return rangeError("scan-count", c.ScanCount)
	}
	if c.ScanRate != 0 && !finiteIn(c.ScanRate, 1, maxScanRate) {
		return rangeError("scan-rate", c.ScanRate)
	}
	// 0 is the zero Config's "the default interval", as the Redis store reads it.
	if c.PollInterval != 0 && (c.PollInterval < minPollInterval || c.PollInterval > maxPollInterval) {
		return rangeError("poll-interval", c.PollInterval)
	}
	if c.GCMaxLifetime < time.Second || c.GCMaxLifetime > maxGCMaxLifetime {
		return rangeError("gc-maxlifetime", c.GCMaxLifetime)
	}
	if c.ExchangeLog < 1 || c.ExchangeLog > maxExchangeLog {
		return rangeError("exchange-log", c.ExchangeLog)
	}
	return nil
}

// checkBindAddress checks an address sessionscope listens on: host:port with a port
// from 0 to 65535 (0 lets the system pick a free one). The host is left to the
// listener: a name that does not resolve is said when binding.
func checkBindAddress(flagName, addr, example string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || strings.ContainsFunc(addr, unicode.IsControl) {
		return fmt.Errorf("%w: --%s %q: want host:port, e.g. %s", errUsage, flagName, addr, example)
	}
	if !validPort(port, 0) {
		return fmt.Errorf("%w: --%s %q: the port must be a number from 0 to 65535 (0 picks a free one), e.g. %s", errUsage, flagName, addr, example)
	}
	return nil
}

// validPort reports whether port is a decimal port number from lowest to 65535.
func validPort(port string, lowest uint64) bool {
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n >= lowest
}

// numericEnv pairs each numeric flag with its environment fallback.
var numericEnv = [][2]string{
	{"read-budget", "SESSIONSCOPE_READ_BUDGET"},
	{"max-payload", "SESSIONSCOPE_MAX_PAYLOAD"},
	{"payload-cache", "SESSIONSCOPE_PAYLOAD_CACHE"},
	{"har-budget", "SESSIONSCOPE_HAR_BUDGET"},
	{"window", "SESSIONSCOPE_WINDOW"},
	{"scan-rate", "SESSIONSCOPE_SCAN_RATE"},
	{"exchange-log", "SESSIONSCOPE_EXCHANGE_LOG"},
}

// checkNumericEnv refuses a numeric environment fallback that is not a number (the
// flag's default was taken in its place, silently) unless the flag itself was given.
// A number is set as the flag would be, and checked for its range by Validate.
func checkNumericEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, pair := range numericEnv {
		name, envName := pair[0], pair[1]
		v, f := getenv(envName), fs.Lookup(name)
		if v == "" || given[name] || f == nil {
			continue
		}
		if err := f.Value.Set(v); err != nil {
			return fmt.Errorf("%w: %s=%q (the default of --%s): want %s", errUsage, envName, v, name, flagRanges[name])
		}
	}
	return nil
}

// loopbackHost reports whether host names only this machine: localhost, 127.0.0.0/8
// or ::1. An empty host means every interface, which is not loopback.
func loopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkProxyListen checks --proxy-listen. Beyond loopback the proxy would hand the
// network an upstream that may listen on loopback only, through a proxy that records
// every visitor's cookies: that takes --proxy-public, said in so many words.
func (c *Config) checkProxyListen() error {
	if err := checkBindAddress("proxy-listen", c.ProxyListen, "127.0.0.1:7080"); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(c.ProxyListen)
	if !loopbackHost(host) && !c.ProxyPublic {
		return fmt.Errorf("%w: --proxy-listen %q is reachable from the network: it would expose the app (maybe listening on loopback only) through a proxy that records every visitor's session cookies; listen on 127.0.0.1, or add --proxy-public if that is meant", errUsage, c.ProxyListen)
	}
	return nil
}

// checkRedisURL parses --redis as the Redis client will, so that a malformed URL is a
// usage error before anything starts. The message never repeats the URL's password.
func checkRedisURL(raw string) error {
	if raw == "" {
		return nil
	}
	_, err := redis.ParseURL(raw)
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error quotes the whole URL, password included
	}
	return fmt.Errorf("%w: malformed --redis URL %s: %v; use redis://[user:password@]host:port/db, rediss://… for TLS or unix:///path/to/redis.sock?db=N",
		errUsage, redisstore.Redact(raw), err)
}
