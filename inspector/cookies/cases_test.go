package cookies

import "strings"

// The cases of the ground-truth table: each runs against real Chromium in
// chromium_test.go and against this package's model in model_test.go, and both
// must produce want.

// step is one request in a case.
type step struct {
	// how: "nav" (browser-initiated top-level navigation, as typed in the address
	// bar), "link" (the current page follows a link), "post" (the current page
	// submits a POST form), "fetch" (the current page fetches a subresource with
	// credentials), "cdpset" (put a cookie straight in the jar: Name=Value on url,
	// Secure when line contains "Secure").
	how string
	// url is the final URL, with host placeholders {L} localhost, {A} a.localhost,
	// {B} b.localhost, {S} sub.localhost, {I} 127.0.0.1 and {P} a non-loopback
	// address of this machine (each with the server's port).
	url string
	// via are URLs that redirect, in order, before url is reached.
	via []string
	// set are the Set-Cookie lines url responds with.
	set []string
}

type realCase struct {
	name  string
	steps []step
	// want is the outcome of the last step: one line per Set-Cookie line
	// ("set NAME: stored", "set NAME: not stored" for an expiry, "set NAME:
	// blocked R+R") and per cookie the browser considered for the request ("send
	// NAME: sent", "send NAME: blocked R+R"), sorted; then "jar: ..." listing the
	// cookies held after it as NAME@DOMAIN(PATH) with flags.
	want []string
}

func nav(url string, set ...string) step   { return step{how: "nav", url: url, set: set} }
func link(url string, set ...string) step  { return step{how: "link", url: url, set: set} }
func post(url string, set ...string) step  { return step{how: "post", url: url, set: set} }
func fetch(url string, set ...string) step { return step{how: "fetch", url: url, set: set} }

var (
	big4096 = "big=" + strings.Repeat("v", 4096-3) // name+value exactly 4096 bytes
	big4097 = "big=" + strings.Repeat("v", 4096-2) // one byte over
	past    = "Expires=Thu, 01 Jan 1970 00:00:01 GMT"
	future  = "Expires=Fri, 01 Jan 2100 00:00:00 GMT"
	xsite4  = []string{"st=1; SameSite=Strict", "lx=1; SameSite=Lax", "un=1", "no=1; SameSite=None; Secure"}
)

var realCases = []realCase{
	// Domain and host-only.
	{name: "host-only default", steps: []step{nav("http://{L}/set", "ho=1")},
		want: []string{"set ho: stored", "jar: ho@localhost(/)"}},
	{name: "host-only sent back", steps: []step{nav("http://{L}/set", "ho=1"), nav("http://{L}/echo")},
		want: []string{"send ho: sent", "jar: ho@localhost(/)"}},
	{name: "Domain=localhost from localhost is host-only", steps: []step{nav("http://{L}/set", "dl=1; Domain=localhost")},
		want: []string{"set dl: stored", "jar: dl@localhost(/)"}},
	{name: "Domain=localhost from sub.localhost", steps: []step{nav("http://{S}/set", "dl=1; Domain=localhost")},
		want: []string{"set dl: blocked InvalidDomain", "jar:"}},
	{name: "Domain=.localhost from sub.localhost", steps: []step{nav("http://{S}/set", "dd=1; Domain=.localhost")},
		want: []string{"set dd: blocked InvalidDomain", "jar:"}},
	{name: "Domain of a sibling", steps: []step{nav("http://{A}/set", "sib=1; Domain=b.localhost")},
		want: []string{"set sib: blocked InvalidDomain", "jar:"}},
	{name: "Domain=own host under localhost is a domain cookie", steps: []step{nav("http://{S}/set", "own=1; Domain=sub.localhost")},
		want: []string{"set own: stored", "jar: own@.sub.localhost(/)"}},
	{name: "Domain=own IP is host-only", steps: []step{nav("http://{I}/set", "ip=1; Domain=127.0.0.1")},
		want: []string{"set ip: stored", "jar: ip@127.0.0.1(/)"}},
	{name: "Domain=another IP", steps: []step{nav("http://{I}/set", "ip=1; Domain=127.0.0.2")},
		want: []string{"set ip: blocked InvalidDomain", "jar:"}},
	// Path.
	{name: "default path is the directory", steps: []step{nav("http://{L}/dir/sub/set", "pd=1")},
		want: []string{"set pd: stored", "jar: pd@localhost(/dir/sub)"}},
	{name: "default path sent below it", steps: []step{nav("http://{L}/dir/sub/set", "pd=1"), nav("http://{L}/dir/sub/page")},
		want: []string{"send pd: sent", "jar: pd@localhost(/dir/sub)"}},
	{name: "default path not on a sibling", steps: []step{nav("http://{L}/dir/sub/set", "pd=1"), nav("http://{L}/dir/other")},
		want: []string{"send pd: blocked NotOnPath", "jar: pd@localhost(/dir/sub)"}},
	{name: "Path=/app not on /application", steps: []step{nav("http://{L}/set", "pa=1; Path=/app"), nav("http://{L}/application")},
		want: []string{"send pa: blocked NotOnPath", "jar: pa@localhost(/app)"}},
	{name: "Path=/app on /app/x", steps: []step{nav("http://{L}/set", "pa=1; Path=/app"), nav("http://{L}/app/x")},
		want: []string{"send pa: sent", "jar: pa@localhost(/app)"}},
	{name: "Path without slash uses the default", steps: []step{nav("http://{L}/d/set", "pr=1; Path=rel")},
		want: []string{"set pr: stored", "jar: pr@localhost(/d)"}},
	// Secure.
	{name: "Secure from http://localhost", steps: []step{nav("http://{L}/set", "sl=1; Secure")},
		want: []string{"set sl: stored", "jar: sl@localhost(/) Secure"}},
	{name: "Secure sent to http://127.0.0.1", steps: []step{nav("http://{I}/set", "si=1; Secure"), nav("http://{I}/echo")},
		want: []string{"send si: sent", "jar: si@127.0.0.1(/) Secure"}},
	{name: "Secure from http on a public address", steps: []step{nav("http://{P}/set", "sp=1; Secure")},
		want: []string{"set sp: blocked SecureOnly", "jar:"}},
	{name: "Secure cookie not sent over http to a public address", steps: []step{{how: "cdpset", url: "http://{P}/", set: []string{"sp=1; Secure"}}, nav("http://{P}/echo")},
		want: []string{"send sp: blocked SecureOnly", "jar: sp@{P}(/) Secure"}},
	// SameSite.
	{name: "SameSite=None without Secure", steps: []step{nav("http://{L}/set", "ni=1; SameSite=None")},
		want: []string{"set ni: blocked SameSiteNoneInsecure", "jar:"}},
	{name: "SameSite=None with Secure on localhost", steps: []step{nav("http://{L}/set", "ns=1; SameSite=None; Secure")},
		want: []string{"set ns: stored", "jar: ns@localhost(/) Secure None"}},
	{name: "SameSite=None without Secure on a public address", steps: []step{nav("http://{P}/set", "ni=1; SameSite=None")},
		want: []string{"set ni: blocked SameSiteNoneInsecure", "jar:"}},
	{name: "invalid SameSite is unspecified", steps: []step{nav("http://{I}/set", "bad=1; SameSite=Bogus"), nav("http://{L}/page"), post("http://{I}/echo")},
		want: []string{"send bad: sent", "jar: bad@127.0.0.1(/)"}},
	{name: "cross-site link (GET navigation)", steps: []step{nav("http://{I}/set", xsite4...), nav("http://{L}/page"), link("http://{I}/echo")},
		want: []string{"send lx: sent", "send no: sent", "send st: blocked SchemefulSameSiteStrict", "send un: sent", "jar: lx@127.0.0.1(/) Lax no@127.0.0.1(/) Secure None st@127.0.0.1(/) Strict un@127.0.0.1(/)"}},
	{name: "cross-site POST navigation", steps: []step{nav("http://{I}/set", xsite4...), nav("http://{L}/page"), post("http://{I}/echo")},
		want: []string{"send lx: blocked SchemefulSameSiteLax", "send no: sent", "send st: blocked SchemefulSameSiteStrict", "send un: sent", "jar: lx@127.0.0.1(/) Lax no@127.0.0.1(/) Secure None st@127.0.0.1(/) Strict un@127.0.0.1(/)"}},
	{name: "cross-site subresource", steps: []step{nav("http://{I}/set", xsite4...), nav("http://{L}/page"), fetch("http://{I}/echo")},
		want: []string{"send lx: blocked SchemefulSameSiteLax+UserPreferences", "send no: blocked UserPreferences", "send st: blocked SchemefulSameSiteStrict+UserPreferences", "send un: blocked SchemefulSameSiteUnspecifiedTreatedAsLax+UserPreferences", "jar: lx@127.0.0.1(/) Lax no@127.0.0.1(/) Secure None st@127.0.0.1(/) Strict un@127.0.0.1(/)"}},
	{name: "a.localhost and b.localhost are cross-site", steps: []step{nav("http://{B}/set", xsite4...), nav("http://{A}/page"), fetch("http://{B}/echo")},
		want: []string{"send lx: blocked SchemefulSameSiteLax+UserPreferences", "send no: blocked UserPreferences", "send st: blocked SchemefulSameSiteStrict+UserPreferences", "send un: blocked SchemefulSameSiteUnspecifiedTreatedAsLax+UserPreferences", "jar: lx@b.localhost(/) Lax no@b.localhost(/) Secure None st@b.localhost(/) Strict un@b.localhost(/)"}},
	{name: "same-site subresource", steps: []step{nav("http://{I}/set", xsite4...), nav("http://{I}/page"), fetch("http://{I}/echo")},
		want: []string{"send lx: sent", "send no: sent", "send st: sent", "send un: sent", "jar: lx@127.0.0.1(/) Lax no@127.0.0.1(/) Secure None st@127.0.0.1(/) Strict un@127.0.0.1(/)"}},
	{name: "same-site link", steps: []step{nav("http://{I}/set", xsite4...), nav("http://{I}/page"), link("http://{I}/echo")},
		want: []string{"send lx: sent", "send no: sent", "send st: sent", "send un: sent", "jar: lx@127.0.0.1(/) Lax no@127.0.0.1(/) Secure None st@127.0.0.1(/) Strict un@127.0.0.1(/)"}},
	{name: "cross-site navigation sets Strict", steps: []step{nav("http://{L}/page"), link("http://{I}/set", xsite4...)},
		want: []string{"set lx: stored", "set no: stored", "set st: stored", "set un: stored", "jar: lx@127.0.0.1(/) Lax no@127.0.0.1(/) Secure None st@127.0.0.1(/) Strict un@127.0.0.1(/)"}},
	{name: "cross-site subresource cannot set", steps: []step{nav("http://{L}/page"), fetch("http://{I}/set", xsite4...)},
		want: []string{"set lx: blocked UserPreferences", "set no: blocked UserPreferences", "set st: blocked UserPreferences", "set un: blocked UserPreferences", "jar:"}},
	{name: "same-site subresource sets Strict", steps: []step{nav("http://{I}/page"), fetch("http://{I}/set", xsite4...)},
		want: []string{"set lx: stored", "set no: stored", "set st: stored", "set un: stored", "jar: lx@127.0.0.1(/) Lax no@127.0.0.1(/) Secure None st@127.0.0.1(/) Strict un@127.0.0.1(/)"}},
	{name: "cross-site redirect chain keeps Strict", steps: []step{nav("http://{I}/set", xsite4[:3]...), nav("http://{I}/page"),
		{how: "link", url: "http://{I}/echo", via: []string{"http://{I}/r", "http://{L}/r"}}},
		want: []string{"send lx: sent", "send st: sent", "send un: sent", "jar: lx@127.0.0.1(/) Lax st@127.0.0.1(/) Strict un@127.0.0.1(/)"}},
	// Prefixes.
	{name: "__Host- valid on localhost", steps: []step{nav("http://{L}/set", "__Host-a=1; Secure; Path=/")},
		want: []string{"set __Host-a: stored", "jar: __Host-a@localhost(/) Secure"}},
	{name: "__Host- with Domain", steps: []step{nav("http://{L}/set", "__Host-b=1; Secure; Path=/; Domain=localhost")},
		want: []string{"set __Host-b: blocked InvalidPrefix", "jar:"}},
	{name: "__Host- without Path=/", steps: []step{nav("http://{L}/x/set", "__Host-c=1; Secure")},
		want: []string{"set __Host-c: blocked InvalidPrefix", "jar:"}},
	{name: "__Secure- without Secure", steps: []step{nav("http://{L}/set", "__Secure-d=1")},
		want: []string{"set __Secure-d: blocked InvalidPrefix", "jar:"}},
	{name: "__secure- lower case without Secure", steps: []step{nav("http://{L}/set", "__secure-e=1")},
		want: []string{"set __secure-e: blocked InvalidPrefix", "jar:"}},
	{name: "__Secure- from http on a public address", steps: []step{nav("http://{P}/set", "__Secure-f=1; Secure")},
		want: []string{"set __Secure-f: blocked InvalidPrefix", "jar:"}},
	// Size.
	{name: "name+value of 4096 bytes", steps: []step{nav("http://{L}/set", big4096)},
		want: []string{"set big: stored", "jar: big@localhost(/)"}},
	{name: "name+value of 4097 bytes", steps: []step{nav("http://{L}/set", big4097)},
		want: []string{"set big: blocked NameValuePairExceedsMaxSize", "jar:"}},
	// Expiry and deletion.
	{name: "Max-Age=0 deletes", steps: []step{nav("http://{L}/set", "del=1"), nav("http://{L}/set", "del=; Max-Age=0")},
		want: []string{"send del: sent", "set del: not stored", "jar:"}},
	{name: "past Expires deletes", steps: []step{nav("http://{L}/set", "del=1; "+future), nav("http://{L}/set", "del=; "+past)},
		want: []string{"send del: sent", "set del: not stored", "jar:"}},
	{name: "Max-Age wins over Expires", steps: []step{nav("http://{L}/set", "mx=1; Max-Age=0; "+future)},
		want: []string{"set mx: not stored", "jar:"}},
	{name: "persistent cookie kept", steps: []step{nav("http://{L}/set", "pc=1; Max-Age=3600")},
		want: []string{"set pc: stored", "jar: pc@localhost(/)"}},
	// Overwriting Secure cookies.
	{name: "http://localhost may overwrite a Secure cookie", steps: []step{nav("http://{L}/set", "ow=1; Secure"), nav("http://{L}/set", "ow=2")},
		want: []string{"send ow: sent", "set ow: stored", "jar: ow@localhost(/)"}},
	{name: "insecure origin cannot overwrite a Secure cookie", steps: []step{{how: "cdpset", url: "http://{P}/", set: []string{"ow=1; Secure"}}, nav("http://{P}/set", "ow=2")},
		want: []string{"send ow: blocked SecureOnly", "set ow: blocked OverwriteSecure", "jar: ow@{P}(/) Secure"}},
	{name: "insecure origin cannot shadow a Secure cookie on a subpath", steps: []step{{how: "cdpset", url: "http://{P}/", set: []string{"ow=1; Secure"}}, nav("http://{P}/a/set", "ow=2; Path=/a")},
		want: []string{"send ow: blocked SecureOnly", "set ow: blocked OverwriteSecure", "jar: ow@{P}(/) Secure"}},
	{name: "insecure origin cannot delete a Secure cookie", steps: []step{{how: "cdpset", url: "http://{P}/", set: []string{"ow=1; Secure"}}, nav("http://{P}/set", "ow=; Max-Age=0")},
		want: []string{"send ow: blocked SecureOnly", "set ow: blocked OverwriteSecure", "jar: ow@{P}(/) Secure"}},
	// Syntax.
	{name: "nameless cookie", steps: []step{nav("http://{L}/set", "justvalue")},
		want: []string{"set justvalue: stored", "jar: @localhost(/)"}},
}
