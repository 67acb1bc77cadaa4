package lab

import (
	"time"
)

// definition is a scenario with what the lab needs to run it: the app's knobs for the
// broken and the fixed run, and the browser script both share.
type definition struct {
	Scenario
	broken, fixed Knobs
	script        []Action
	// attackerSameUA gives the attacker the victim's User-Agent, as a fixation
	// attacker who only needs the victim to log in may well have.
	attackerSameUA bool
}

// with returns healthyKnobs changed by f.
func with(f func(*Knobs)) Knobs {
	k := healthyKnobs()
	f(&k)
	return k
}

func tryPath(id string) string { return "/lab/use?scenario=" + id }

// definitions lists the scenarios in display order.
func definitions() []definition {
	loginTry := "Log in as " + labUser + " / " + labPassword + "."
	return []definition{
		{
			Scenario: Scenario{
				ID: "healthy", Title: "A healthy login",
				Symptom: "Nothing goes wrong: the user logs in, confirms a critical action with the password, and logs out.",
				Story: []string{
					"The app sets its session cookie explicitly: HttpOnly, Secure, SameSite=Lax, Path=/.",
					"At login it issues a new session id (an existing one would be replaced and deleted) and writes the session before it redirects.",
					"Both app servers share one session store, so whichever server answers knows the user.",
					"Deleting the account asks for the password again, and logout destroys the session on the server.",
				},
				Principle: "regenerate the id at login; HttpOnly and Secure cookies; expire sessions on the server; destroy the session at logout; re-authenticate before critical actions",
				Events:    []string{"created", "destroyed cause=app"},
				Fix:       "Nothing to fix: this is the baseline the other scenarios break.",
				Try: Try{Path: tryPath("healthy"), Steps: []string{
					"Open the lab link: it configures the lab and opens the login page on localhost.",
					loginTry + " The dashboard greets you.",
					"Open Account, confirm the critical action with the password, then log out.",
					"Watch Live: created at login, destroyed at logout; Findings stays empty.",
				}},
			},
			broken: healthyKnobs(), fixed: healthyKnobs(),
			script: []Action{
				open(ActorVictim, hostMain, "/login", "open the login page"),
				logIn(ActorVictim, "log in; the redirect lands on the dashboard"),
				click(ActorVictim, "account", "open the account page"),
				submit(ActorVictim, "confirm", map[string]string{"password": labPassword}, "confirm the critical action with the password (re-authentication before a critical action)"),
				click(ActorVictim, "dashboard", "back to the dashboard"),
				submit(ActorVictim, "logout", nil, "log out"),
			},
		},
		{
			Scenario: Scenario{
				ID: "cookie-domain-mismatch", Title: "Login on one subdomain, dashboard on another",
				Symptom: "After logging in the user lands on the login page again, every time.",
				Story: []string{
					"The login form lives on login.lab.localhost and redirects to the dashboard on app.lab.localhost.",
					"The session cookie has no Domain attribute, so the browser keeps it for login.lab.localhost only.",
					"The dashboard request goes out without the cookie, the app sees no session and sends the user back to log in.",
					"A classic Domain mismatch: a redirect between subdomains without an explicit cookie domain.",
				},
				Principle: "the cookie's Domain and Path must cover every page that needs the session",
				Expected:  []string{"cookie-not-sent", "login-loop"},
				Events:    []string{"created", "regenerated"},
				Fix: "Serve the app from one host and redirect the others to it (the fixed run does), or give the cookie the parent domain both hosts share. " +
					"PHP: session_set_cookie_params(['domain' => '.lab.localhost']). Node: session({ cookie: { domain: 'lab.localhost' } }). " +
					"A parent domain also sends the id to every other subdomain, so prefer one host.",
				Try: Try{Path: tryPath("cookie-domain-mismatch"), Steps: []string{
					"Open the lab link: it opens the login page on login.lab.localhost (Chromium resolves *.localhost to this machine).",
					loginTry + " You land on the login page again.",
					"DevTools → Network → the dashboard request → Cookies, \"show filtered out request cookies\": PHPSESSID, DomainMismatch.",
					"Run fixed: login.lab.localhost redirects to app.lab.localhost, the cookie is set where the dashboard is, and it opens.",
				}},
			},
			broken: with(func(k *Knobs) { k.LoginHost, k.AppHost = hostLogin, hostApp }),
			// Serving the app from one host keeps the cookie host-only: a Domain cookie
			// would also work but hands the id to every subdomain (cookie-flags).
			fixed:  with(func(k *Knobs) { k.LoginHost, k.AppHost, k.CanonicalHost = hostApp, hostApp, hostApp }),
			script: loginTwice(hostLogin, "/login"),
		},
		{
			Scenario: Scenario{
				ID: "cookie-path-mismatch", Title: "A session cookie scoped to the login folder",
				Symptom: "After logging in the user lands on the login page again, every time.",
				Story: []string{
					"The login page lives under /auth/ and the app sets the session cookie with Path=/auth.",
					"The browser stores it, but sends it only to URLs under /auth.",
					"The dashboard at /dashboard arrives without the cookie, so the app sees no login and redirects to the login page.",
					"The cause: a cookie path that does not cover the page the redirect goes to.",
				},
				Principle: "the cookie's Domain and Path must cover every page that needs the session",
				Expected:  []string{"cookie-not-sent", "login-loop"},
				Events:    []string{"created", "regenerated"},
				Fix: "Scope the session cookie to the whole app. " +
					"PHP: session_set_cookie_params(['path' => '/']) or session.cookie_path = /. Node: session({ cookie: { path: '/' } }).",
				Try: Try{Path: tryPath("cookie-path-mismatch"), Steps: []string{
					"Open the lab link: it opens /auth/login on localhost.",
					loginTry + " You land on the login page again.",
					"DevTools → Network → the dashboard request → Cookies: PHPSESSID filtered out, NotOnPath.",
					"Run fixed: Path=/ and the dashboard opens.",
				}},
			},
			broken: with(func(k *Knobs) { k.LoginPath, k.CookiePath = "/auth/login", "/auth" }),
			fixed:  with(func(k *Knobs) { k.LoginPath = "/auth/login" }),
			script: loginTwice(hostMain, "/auth/login"),
		},
		{
			Scenario: Scenario{
				ID: "secure-cookie-over-http", Title: "A Secure cookie on a plain-http site",
				Symptom: "Logging in never sticks: the login page comes back after every attempt.",
				Story: []string{
					"The app follows the advice to mark the session cookie Secure, but this copy of the shop is served over plain http.",
					"A browser refuses to store a Secure cookie from an http page (only localhost is exempt), so it never holds the session.",
					"Every request arrives without a session, and the dashboard sends the user back to the login page.",
					"A common configuration sets cookie_secure with the comment \"Requires HTTPS\": the flag and the transport must go together.",
				},
				Principle: "a Secure cookie needs HTTPS wherever the browser is to send it",
				Expected:  []string{"cookie-rejected", "login-loop"},
				Events:    []string{"created"},
				Fix: "Serve the site over https and redirect http to https, keeping the cookie Secure. " +
					"PHP: session.cookie_secure = 1 behind https. Node: session({ cookie: { secure: 'auto' } }) with app.set('trust proxy', 1). " +
					"The fixed run redirects to localhost, which browsers count as secure, standing in for https.",
				Try: Try{Path: tryPath("secure-cookie-over-http"), Steps: []string{
					"Chromium counts localhost and 127.0.0.1 as secure, so this needs a host that is not: start it with --host-resolver-rules=\"MAP *.test 127.0.0.1\" (or map shop.lab.test to 127.0.0.1 in /etc/hosts).",
					"Open the lab link: it opens http://shop.lab.test:PORT/login.",
					loginTry + " You land on the login page again.",
					"DevTools → Network → the login response → Cookies: PHPSESSID blocked, \"Secure\" (SecureOnly).",
					"Run fixed: the app redirects to localhost (a secure context, as https would be) and the login sticks.",
				}},
			},
			broken: healthyKnobs(),
			fixed:  with(func(k *Knobs) { k.CanonicalHost = hostMain }),
			script: loginTwice(hostHTTP, "/login"),
		},
		{
			Scenario: Scenario{
				ID: "samesite-strict-cross-site-return", Title: "SameSite=Strict and the return from another site",
				Symptom: "Back from the partner site, the user is logged out.",
				Story: []string{
					"The app hardens its session cookie with SameSite=Strict.",
					"The user logs in, then goes to a partner site (an identity provider or a payment page) on 127.0.0.1.",
					"The partner's link back to the shop is a navigation started by another site, and the browser withholds Strict cookies from it.",
					"The shop sees no session and sends the user to the login page: SameSite can block the session cookie on a cross-site transition.",
				},
				Principle: "SameSite decides whether the session cookie rides along on a cross-site transition",
				Expected:  []string{"cookie-not-sent"},
				Events:    []string{"created"},
				Fix: "Use SameSite=Lax for the session cookie: it is sent on top-level navigations from other sites, still not on their subrequests or POSTs. " +
					"PHP: session_set_cookie_params(['samesite' => 'Lax']). Node: session({ cookie: { sameSite: 'lax' } }).",
				Try: Try{Path: tryPath("samesite-strict-cross-site-return"), Steps: []string{
					"Open the lab link: it opens the login page on localhost.",
					loginTry + " On the dashboard, follow \"Continue at PartnerPay\" to the partner on 127.0.0.1 (another site).",
					"Follow \"Back to the shop\": you land on the login page.",
					"DevTools → Network → the dashboard request → Cookies: PHPSESSID filtered out, SameSite=Strict.",
					"Run fixed: SameSite=Lax and the return keeps you logged in.",
				}},
			},
			broken: with(func(k *Knobs) { k.SameSite = "Strict" }),
			fixed:  healthyKnobs(),
			script: []Action{
				open(ActorVictim, hostMain, "/login", "open the login page"),
				logIn(ActorVictim, "log in; the dashboard opens"),
				click(ActorVictim, "partner", "go to the partner site (another site)"),
				click(ActorVictim, "back", "the partner sends the user back to the shop"),
			},
		},
		{
			Scenario: Scenario{
				ID: "headers-already-sent", Title: "Headers already sent",
				Symptom: "The login form accepts the password and leaves the user on a blank page.",
				Story: []string{
					"An included file starts with a blank line before <?php, output buffering is off (PHP's default without a php.ini), so every page has sent output before session_start().",
					"PHP 8 then refuses to start the session: nothing is written to the store and no Set-Cookie goes out.",
					"The login's redirect is a header too, so it fails as well and the login answers a blank page.",
					"An app that redirects from the page instead (a script) sends the user to the dashboard without a session and back to the login form, again and again.",
					"PHP before 7.2 still wrote the session and lost only its cookie, which sessionscope reports as cookie-missing.",
				},
				Principle: "no output before the session starts: headers go first",
				Expected:  []string{"no-session"},
				Fix: "Start the session before any output. PHP: session_start() first thing, no whitespace or BOM before <?php in any included file, no echo before it; " +
					"check that session_start() returns true, and headers_sent($file, $line) names the culprit. output_buffering (or ob_start() at the entry point) only hides the stray output. " +
					"Node: register the session middleware before any route writes.",
				Try: Try{Path: tryPath("headers-already-sent"), Steps: []string{
					"Open the lab link: it opens the login page on localhost.",
					loginTry + " You land on a blank page.",
					"DevTools → Network: the login POST answers 200 with no Location and no Set-Cookie, and Live shows no session created.",
					"Run fixed: the session starts before any output, the cookie goes out and the dashboard opens.",
				}},
			},
			broken: with(func(k *Knobs) { k.HeadersAlreadySent = true }),
			fixed:  healthyKnobs(),
			script: loginTwice(hostMain, "/login"),
		},
		{
			Scenario: Scenario{
				ID: "redirect-before-write", Title: "The redirect outruns the session write",
				Symptom: "Sometimes logging in works, sometimes the user lands on the login page again.",
				Story: []string{
					"The login handler redirects to the dashboard and only then writes the session, and the store is slow.",
					"The browser follows the redirect at once, so the dashboard reads the store before the login's write has landed.",
					"The dashboard sees no login and sends the user back; a moment later the write lands, too late.",
					"Whether it happens depends on store latency, which is why this loop is intermittent.",
				},
				Principle: "write the session before redirecting to a page that reads it",
				Expected:  []string{"stale-read", "login-loop"},
				Fix: "Commit the session before the redirect. PHP: session_write_close(); header('Location: /dashboard'); exit; " +
					"Node: req.session.save(() => res.redirect('/dashboard')).",
				Try: Try{Path: tryPath("redirect-before-write"), Steps: []string{
					"Open the lab link: it opens the login page on localhost; the store answers in 300 ms.",
					loginTry + " You land on the login page again.",
					"Requests → the flow view: the login's 302 finishes before its session write lands; the dashboard request is in between.",
					"Run fixed: the same slow store, but the write is committed before the redirect.",
				}},
			},
			broken: with(func(k *Knobs) { k.WriteAfterResponse, k.StoreLatency = true, 300*time.Millisecond }),
			fixed:  with(func(k *Knobs) { k.StoreLatency = 300 * time.Millisecond }),
			script: []Action{
				open(ActorVictim, hostMain, "/login", "open the login page"),
				logIn(ActorVictim, "log in; the redirect outruns the session write"),
				wait(time.Second, "read the login page again"),
				optional(logIn(ActorVictim, "try again")),
				wait(time.Second, "the late write lands"),
			},
		},
		{
			Scenario: Scenario{
				ID: "no-sticky-sessions", Title: "Two servers, two session stores, no sticky sessions",
				Symptom: "The login loops: the user is logged in on one request and a stranger on the next.",
				Story: []string{
					"Two app servers sit behind a round-robin load balancer, and each keeps sessions in its own local store.",
					"The login request lands on server A, which stores the session; the dashboard request lands on server B.",
					"Server B has never heard of that session, so it treats the user as logged out.",
					"A load balancer without session affinity and without a shared store.",
				},
				Principle: "servers behind a load balancer share one session store, or use sticky sessions",
				Expected:  []string{"session-not-shared", "login-loop"},
				Events:    []string{"created"},
				Fix: "Give every server one shared session store (sticky sessions are second best). " +
					"PHP: session.save_handler = redis, session.save_path = \"tcp://redis:6379\" on every server. Node: one connect-redis store for all instances.",
				Try: Try{Path: tryPath("no-sticky-sessions"), Steps: []string{
					"Open the lab link: it opens the login page on localhost, served in turn by two nodes with their own stores.",
					loginTry + " You land on the login page again (or, one time in a few, on the dashboard).",
					"Requests: the upstream column alternates; Live shows sessions created on node a and node b.",
					"Run fixed: both nodes share one store and the login sticks.",
				}},
			},
			broken: with(func(k *Knobs) { k.SharedStore = false }),
			fixed:  healthyKnobs(),
			script: loginTwice(hostMain, "/login"),
		},
		{
			Scenario: Scenario{
				ID: "session-fixation", Title: "Session fixation through a sibling subdomain",
				Symptom: "Nothing visible to the user; the attacker is logged in as them.",
				Story: []string{
					"The attacker picks a session id and plants it in a page on evil.lab.localhost, a sibling subdomain.",
					"That page sets the id as a cookie for all of lab.localhost and links to the app, where the victim logs in.",
					"The app adopts that id instead of issuing its own and keeps it at login, so the attacker's copy is now a logged-in session.",
					"Principle rule 1 says to regenerate the id when privileges change; rule 4 says to accept only ids the server issued.",
				},
				Principle: "regenerate the id at login; accept only ids the server generated",
				Expected:  []string{"fixation"},
				Events:    []string{"created"},
				Fix: "Regenerate the id at login and delete the old one, and refuse ids you did not issue. " +
					"PHP: session_regenerate_id(true) after the password check; session.use_strict_mode = 1. Node: req.session.regenerate() at login.",
				Try: Try{Path: tryPath("session-fixation"), Steps: []string{
					"Use two browser profiles: the attacker's and the victim's.",
					"Attacker: open the lab link: it opens the trap page on evil.lab.localhost (a port of its own, outside the proxy); plant any id of 26 characters from 0-9 and a-v.",
					"Victim: open the trap page, follow \"Open your bank\", and " + loginTry,
					"Attacker: open http://app.lab.localhost:PORT/dashboard: it greets alice.",
					"Run fixed: the login gets a new id and the attacker's id leads to the login page.",
				}},
			},
			broken:         with(func(k *Knobs) { k.Regenerate, k.StrictMode = false, false }),
			fixed:          healthyKnobs(),
			attackerSameUA: true,
			script: []Action{
				open(ActorAttacker, hostEvil, "/trap", "the attacker opens the trap page on the sibling subdomain"),
				submit(ActorAttacker, "plant", map[string]string{"sid": FieldNewID}, "and plants a session id of their choosing in it"),
				open(ActorVictim, hostEvil, "/trap", "the victim opens the link from the attacker's mail"),
				click(ActorVictim, "bank", "and goes on to the bank"),
				logIn(ActorVictim, "the victim logs in"),
				open(ActorAttacker, hostApp, "/dashboard", "the attacker opens the dashboard with the planted id"),
			},
		},
		{
			Scenario: Scenario{
				ID: "hijack-detected", Title: "A stolen cookie replayed, and caught",
				Symptom: "The user is asked to log in again; the attacker gets nowhere.",
				Story: []string{
					"The session cookie lacks HttpOnly, so a script injected into the page reads it and sends it to the attacker.",
					"The attacker replays it from another address with another browser.",
					"The app remembered the user's network and User-Agent at login; both differ, so it destroys the session.",
					"Principle rule 2 advises exactly this check, and rule 3 the HttpOnly flag that would have stopped the theft.",
				},
				Principle: "destroy a session whose client suddenly changes; HttpOnly cookies",
				Expected:  []string{"cookie-flags", "hijack-suspect"},
				Events:    []string{"created", "destroyed cause=hijack-suspect"},
				Fix: "The fingerprint check worked; close the leak: mark the cookie HttpOnly so scripts cannot read it. " +
					"PHP: session.cookie_httponly = 1. Node: session({ cookie: { httpOnly: true } }).",
				Try: Try{Path: tryPath("hijack-detected"), Steps: []string{
					"Open the lab link in one browser and " + loginTry,
					"In DevTools' console run document.cookie: the session id is readable.",
					"In another browser (another User-Agent; for another address open the lab via http://127.0.0.2:PORT), set that PHPSESSID and open /dashboard.",
					"The app destroys the session: Live shows destroyed with cause hijack-suspect; the first browser must log in again.",
					"Run fixed: the cookie is HttpOnly, document.cookie no longer shows it, and there is nothing to replay.",
				}},
			},
			broken: with(func(k *Knobs) { k.HTTPOnly = false }),
			fixed:  healthyKnobs(),
			script: hijackScript(),
		},
		{
			Scenario: Scenario{
				ID: "hijack-ignored", Title: "A stolen cookie replayed, and served",
				Symptom: "Nothing visible to the user; the attacker browses their account.",
				Story: []string{
					"The session cookie lacks HttpOnly, so an injected script steals it.",
					"The attacker replays it from another address with another browser, and the app serves the dashboard.",
					"The app never looks at who is using the session, so nothing stops the stranger.",
					"Only the password prompt on the critical action (re-authentication before a critical action) keeps the attacker from deleting the account.",
				},
				Principle: "watch for suspicious activity; HttpOnly cookies; re-authenticate before critical actions",
				Expected:  []string{"cookie-flags", "hijack-ignored"},
				Events:    []string{"created"},
				Fix: "Mark the cookie HttpOnly, and remember the client's /16 and User-Agent at login; destroy the session when both change. " +
					"PHP: session.cookie_httponly = 1; compare $_SESSION['_ip16'] and $_SESSION['_ua'] on each request. Node: httpOnly: true and the same check in a middleware.",
				Try: Try{Path: tryPath("hijack-ignored"), Steps: []string{
					"Open the lab link in one browser and " + loginTry,
					"Copy document.cookie's PHPSESSID into another browser (another User-Agent, opened via http://127.0.0.2:PORT) and open /dashboard: it greets alice.",
					"Try the account's critical action there: it asks for the password (re-authentication before a critical action).",
					"Run fixed: the cookie is HttpOnly and the fingerprint check is on.",
				}},
			},
			broken: with(func(k *Knobs) { k.HTTPOnly, k.CheckFingerprint = false, false }),
			fixed:  healthyKnobs(),
			script: append(hijackScript(),
				optional(click(ActorAttacker, "account", "the attacker opens the account page")),
				optional(submit(ActorAttacker, "confirm", map[string]string{"password": "guess"}, "and cannot confirm the critical action without the password"))),
		},
		{
			Scenario: Scenario{
				ID: "idle-and-absolute-expiry", Title: "Sessions that only the cookie expires",
				Symptom: "The user is logged out after a few seconds, yet the session lives on in the store.",
				Story: []string{
					"The app gives the cookie a short Max-Age and writes sessions to the store without a TTL.",
					"The browser forgets the cookie after three seconds, so the user looks logged out.",
					"On the server the session never ends: anyone who copied the id can keep using it.",
					"Principle rule 6: expire sessions on the server with an idle and an absolute timeout, not through the cookie.",
				},
				Principle: "expire sessions on the server side",
				Expected:  []string{"no-server-expiry"},
				Events:    []string{"created"},
				Fix: "Give sessions a store TTL refreshed on use (idle timeout) and end them a fixed time after login (absolute timeout). " +
					"PHP: session.gc_maxlifetime (phpredis' TTL) and a $_SESSION['created'] check. Node: rolling: true with cookie.maxAge, plus a created-at check.",
				Try: Try{Path: tryPath("idle-and-absolute-expiry"), Steps: []string{
					"Open the lab link: it opens the login page on localhost.",
					loginTry + " Wait four seconds and reload the dashboard: the login page (the cookie expired).",
					"Sessions still lists the session, with no TTL.",
					"Run fixed: an idle timeout of 2 s (store TTL: Live shows expired) and an absolute timeout of 4 s (destroyed by the app).",
				}},
			},
			broken: with(func(k *Knobs) { k.IdleTimeout, k.MaxAge = 0, 3 }),
			fixed: with(func(k *Knobs) {
				k.IdleTimeout, k.AbsoluteTimeout = 2*time.Second, 4*time.Second
			}),
			script: []Action{
				open(ActorVictim, hostMain, "/login", "open the login page"),
				logIn(ActorVictim, "log in"),
				wait(3500*time.Millisecond, "the user steps away"),
				open(ActorVictim, hostMain, "/dashboard", "and comes back: logged out"),
				logIn(ActorVictim, "log in again"),
				wait(time.Second, "keep working"),
				optional(click(ActorVictim, "dashboard", "active")),
				wait(time.Second, "keep working"),
				optional(click(ActorVictim, "dashboard", "active")),
				wait(time.Second, "keep working"),
				optional(click(ActorVictim, "dashboard", "active")),
				wait(1500*time.Millisecond, "keep working"),
				optional(click(ActorVictim, "dashboard", "past the absolute timeout")),
			},
		},
		{
			Scenario: Scenario{
				ID: "logout-without-destroy", Title: "Logout that only clears the cookie",
				Symptom: "Logout looks fine; the session stays valid on the server.",
				Story: []string{
					"The logout handler expires the session cookie but never deletes the session.",
					"The browser forgets the id, so the user looks logged out.",
					"The session stays in the store until its TTL runs out, and whoever kept a copy of the id is still logged in.",
					"Principle rule 9: destroy the session on the server at logout, do not rely on the cookie.",
				},
				Principle: "destroy the session on the server at logout",
				Expected:  []string{"logout-not-destroyed"},
				Events:    []string{"created"},
				Fix: "Destroy the session, then clear the cookie. PHP: $_SESSION = []; session_destroy(); setcookie(session_name(), '', 1, '/'); " +
					"Node: req.session.destroy(() => { res.clearCookie('connect.sid'); res.redirect('/'); }).",
				Try: Try{Path: tryPath("logout-without-destroy"), Steps: []string{
					"Open the lab link: it opens the login page on localhost.",
					loginTry + " Then log out.",
					"Sessions still lists the session; Live shows no destroyed event.",
					"Run fixed: logout destroys it.",
				}},
			},
			broken: with(func(k *Knobs) { k.LogoutDestroys = false }),
			fixed:  healthyKnobs(),
			script: []Action{
				open(ActorVictim, hostMain, "/login", "open the login page"),
				logIn(ActorVictim, "log in"),
				submit(ActorVictim, "logout", nil, "log out"),
			},
		},
		{
			Scenario: Scenario{
				ID: "session-id-in-url", Title: "The session id in the URL",
				Symptom: "Links carry ?PHPSESSID=… and the id ends up in logs, history and Referer headers.",
				Story: []string{
					"The app appends the session id to its links, as PHP's use_trans_sid does.",
					"Every click puts the id in the address bar, the browser history, server logs and the Referer sent to other sites.",
					"Anyone who sees such a URL can use the session, and an attacker can hand a victim a link with an id of their choosing.",
					"Principle rule 5: do not append the session id to URLs.",
				},
				Principle: "session ids only in cookies, never in URLs; regenerate the id at login",
				Expected:  []string{"session-id-in-url"},
				Events:    []string{"created"},
				Fix: "Carry the id in a cookie only. PHP: session.use_trans_sid = 0, session.use_only_cookies = 1. " +
					"Node: express-session never reads ids from URLs; do not add them to links.",
				Try: Try{Path: tryPath("session-id-in-url"), Steps: []string{
					"Open the lab link: it opens the login page on localhost.",
					loginTry + " Follow Account: the address bar shows ?PHPSESSID=….",
					"Findings names the URL (with the id masked).",
					"Run fixed: plain links.",
				}},
			},
			broken: with(func(k *Knobs) { k.SessionIDInURL = true }),
			fixed:  healthyKnobs(),
			script: []Action{
				open(ActorVictim, hostMain, "/login", "open the login page"),
				logIn(ActorVictim, "log in"),
				click(ActorVictim, "account", "follow a link that carries the session id"),
			},
		},
		{
			Scenario: Scenario{
				ID: "eviction-under-maxmemory", Title: "Sessions evicted by a full Redis",
				Symptom: "Users are logged out at random when the site is busy.",
				Story: []string{
					"Sessions share a Redis with a cache, and that Redis evicts any key under maxmemory (allkeys-lru).",
					"The reports page fills the cache, Redis runs out of memory and evicts the least recently used keys, sessions included.",
					"The next request finds no session and the user is sent to the login page.",
					"Centralising sessions in Redis fixes the multi-server loop; that store must then not drop them.",
				},
				Principle:  "a central session store must not evict sessions",
				Expected:   []string{"sessions-evicted"},
				Events:     []string{"evicted"},
				NeedsRedis: true,
				Fix: "Keep sessions in a Redis that does not evict them: a dedicated instance with maxmemory-policy noeviction, " +
					"or volatile-lru with every cache key given a TTL; or give the cache its own Redis.",
				Try: Try{Path: tryPath("eviction-under-maxmemory"), Steps: []string{
					"Start sessionscope with --redis URL on a Redis with a small maxmemory and maxmemory-policy allkeys-lru.",
					"Open the lab link, " + loginTry,
					"Open Reports (it fills the cache), then the dashboard: the login page. Live shows evicted.",
					"Run fixed: the cache lives elsewhere and the session survives.",
				}},
			},
			broken: with(func(k *Knobs) { k.CacheBytes = 4 << 20 }),
			fixed:  healthyKnobs(),
			script: []Action{
				open(ActorVictim, hostMain, "/login", "open the login page"),
				logIn(ActorVictim, "log in"),
				click(ActorVictim, "reports", "open the reports page, which fills the cache"),
				wait(cacheWarmerDelay+time.Second, "read the report while the cache warmer fills Redis"),
				click(ActorVictim, "dashboard", "back to the dashboard"),
			},
		},
	}
}

// hijackScript is the victim logging in and an attacker replaying the victim's
// cookie from another address and browser.
func hijackScript() []Action {
	return []Action{
		open(ActorVictim, hostMain, "/login", "open the login page"),
		logIn(ActorVictim, "log in"),
		{Actor: ActorAttacker, Do: DoSteal, Cookie: "PHPSESSID", Note: "a script injected into the page sends document.cookie to the attacker"},
		open(ActorAttacker, hostMain, "/dashboard", "the attacker replays the cookie from 127.0.0.2 with another browser"),
		open(ActorVictim, hostMain, "/dashboard", "the victim carries on"),
	}
}

// Scenarios lists the lab's scenarios in display order. Each call builds them anew,
// so callers may keep or change what they get.
func Scenarios() []Scenario {
	defs := definitions()
	out := make([]Scenario, len(defs))
	for i, d := range defs {
		out[i] = d.Scenario
	}
	return out
}

// Find returns the scenario with that id.
func Find(id string) (Scenario, bool) {
	d, ok := definitionOf(id)
	return d.Scenario, ok
}

func definitionOf(id string) (definition, bool) {
	for _, d := range definitions() {
		if d.ID == id {
			return d, true
		}
	}
	return definition{}, false
}
