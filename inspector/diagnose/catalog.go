package diagnose

// RuleInfo names a diagnosis rule and says in one line when it fires.
type RuleInfo struct {
	ID      string
	Sees    string // "HTTP", "store" or "both": what the rule needs to see
	Summary string
}

// Catalog lists every rule, for empty states and help. The ids are DESIGN.md's.
func Catalog() []RuleInfo {
	return []RuleInfo{
		{"login-loop", "HTTP", "the browser cycles between a protected page and the login; names the finding that explains it"},
		{"cookie-rejected", "HTTP", "the browser refused a session cookie (Chromium's reason and the attribute at fault)"},
		{"cookie-not-sent", "HTTP", "the browser held a session cookie back from a request (Domain, Path, Secure, SameSite)"},
		{"cookie-missing", "both", "the store created a session but the response carried no Set-Cookie for it (headers already sent)"},
		{"duplicate-cookie", "HTTP", "a request carried one session cookie name twice (Domain/Path variants) and the server read the one without the session"},
		{"cookie-not-cleared", "HTTP", "a logout expired the session cookie with another Domain/Path than the browser holds, so it stayed"},
		{"no-session", "HTTP", "a login POST answered without any session cookie: the session never started (output before session_start())"},
		{"stale-read", "both", "a redirect's headers went out before its session write landed, and the next request read the session first"},
		{"session-not-shared", "both", "a session issued by one upstream was unknown to another (no shared store, no sticky sessions)"},
		{"fixation", "store", "a login kept its session id, or the server adopted an id it did not issue (not seen issued since sessionscope started)"},
		{"old-session-kept", "store", "a regeneration left the old session alive in the store"},
		{"hijack-suspect", "both", "a session used from another network and browser; the app destroyed it"},
		{"hijack-ignored", "both", "a session used from another network and browser; the app served the stranger"},
		{"logout-not-destroyed", "both", "logout cleared the cookie but left the session in the store"},
		{"no-server-expiry", "store", "session keys without a TTL: the server never expires them"},
		{"cookie-outlives-session", "both", "the session cookie lives much longer than the session in the store"},
		{"session-outlives-cookie", "both", "the session lives in the store much longer than its cookie in the browser"},
		{"weak-session-id", "HTTP", "over 100+ ids: too little entropy, a small alphabet, sequential ids or failed FIPS 140-2 tests"},
		{"session-id-in-url", "HTTP", "a session id in a query string, a path or a Referer"},
		{"cookie-flags", "HTTP", "a session cookie without HttpOnly, Secure or SameSite, or with a loose Domain"},
		{"sensitive-data-in-cookie", "HTTP", "a cookie value that decodes to credentials or roles"},
		{"header-injection", "HTTP", "CR/LF from the request reached a response header (response splitting)"},
		{"sessions-evicted", "store", "Redis evicted session keys under maxmemory"},
	}
}
