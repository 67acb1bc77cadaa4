package cookies

// Reason is why a browser refused to store a Set-Cookie line or to send a stored
// cookie. The values are Chromium's own names, as DevTools shows them
// (Network.SetCookieBlockedReason and Network.CookieBlockedReason), so a user can hold
// a verdict against the browser's Issues and Network panels.
type Reason string

// Reasons shared by storing and sending.
const (
	// SecureOnly: a Secure cookie set from, or sent to, an origin that is not a
	// secure context (https, or a loopback host over http).
	SecureOnly Reason = "SecureOnly"
	// SameSiteStrict: a SameSite=Strict cookie in a context that is not same-site.
	SameSiteStrict Reason = "SameSiteStrict"
	// SameSiteLax: a SameSite=Lax cookie in a cross-site context other than a
	// top-level navigation with a safe method.
	SameSiteLax Reason = "SameSiteLax"
	// SameSiteUnspecifiedTreatedAsLax: a cookie without a (valid) SameSite attribute,
	// which Chromium treats as Lax, in a context Lax does not allow.
	SameSiteUnspecifiedTreatedAsLax Reason = "SameSiteUnspecifiedTreatedAsLax"
	// SameSiteNoneInsecure: SameSite=None without Secure.
	SameSiteNoneInsecure Reason = "SameSiteNoneInsecure"
	// SchemefulSameSiteStrict, SchemefulSameSiteLax and
	// SchemefulSameSiteUnspecifiedTreatedAsLax: as the plain SameSite reasons, but the
	// context is cross-site only because the schemes differ (http vs https).
	SchemefulSameSiteStrict                  Reason = "SchemefulSameSiteStrict"
	SchemefulSameSiteLax                     Reason = "SchemefulSameSiteLax"
	SchemefulSameSiteUnspecifiedTreatedAsLax Reason = "SchemefulSameSiteUnspecifiedTreatedAsLax"
	// NameValuePairExceedsMaxSize: name and value together are over 4096 bytes.
	NameValuePairExceedsMaxSize Reason = "NameValuePairExceedsMaxSize"
	// UserPreferences and ThirdPartyPhaseout: blocked by the user's third-party
	// cookie settings. This package does not model settings; the names are here so
	// callers can carry a browser's verdict in the same type.
	UserPreferences    Reason = "UserPreferences"
	ThirdPartyPhaseout Reason = "ThirdPartyPhaseout"
	// UnknownError: the browser could not say.
	UnknownError Reason = "UnknownError"
)

// Reasons for not storing a Set-Cookie line.
const (
	// SyntaxError: the line could not be parsed into a cookie.
	SyntaxError Reason = "SyntaxError"
	// SchemeNotSupported: the response's URL scheme does not carry cookies.
	SchemeNotSupported Reason = "SchemeNotSupported"
	// OverwriteSecure: a cookie from a non-secure origin would overwrite or shadow
	// an existing Secure cookie of the same name.
	OverwriteSecure Reason = "OverwriteSecure"
	// InvalidDomain: the Domain attribute does not cover the response's host, or is
	// a public suffix (or the host has no registrable domain and Domain is not the
	// host itself).
	InvalidDomain Reason = "InvalidDomain"
	// InvalidPrefix: the name starts with __Secure- or __Host- (any case) and the
	// cookie breaks the prefix's rules.
	InvalidPrefix Reason = "InvalidPrefix"
	// DisallowedCharacter: a control character in the line.
	DisallowedCharacter Reason = "DisallowedCharacter"
	// NoCookieContent: both name and value are empty.
	NoCookieContent Reason = "NoCookieContent"
)

// Reasons for not sending a stored cookie.
const (
	// NotOnPath: the request path does not path-match the cookie's Path.
	NotOnPath Reason = "NotOnPath"
	// DomainMismatch: the request host does not domain-match the cookie's domain
	// (or is not exactly the host of a host-only cookie).
	DomainMismatch Reason = "DomainMismatch"
	// PortMismatch, SchemeMismatch: Chromium's scheme- and port-bound cookies,
	// off by default; not produced by this package.
	PortMismatch   Reason = "PortMismatch"
	SchemeMismatch Reason = "SchemeMismatch"
)
