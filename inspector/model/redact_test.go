package model

import (
	"slices"
	"testing"
)

func TestSensitive(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"password", true},
		{"Password", true},
		// auth is a secret as a word of its own; Spring's authentication subtree holds
		// the principal's name, and its secrets under names of their own (credentials).
		{"auth", true},
		{"x-auth", true},
		{"authToken", true},
		{"Authorization", true},
		{"authentication", false},
		{"authorities", false},
		{"credentials", true},
		{"user_password_hash", true},
		{"apiKey", true},
		{"api_key", true},
		{"API-KEY", true},
		{"ApiKey", true},
		{"userAPIKey", true},
		{"passphrase", true},
		{"pin", true},
		{"PIN", true},
		{"pin_code", true},
		{"pinCode", true},
		{"userPIN", true},
		{"private_key", true},
		{"privateKey", true},
		{"jwt", true},
		{"JWT", true},
		{"cvv", true},
		{"card_cvv", true},
		{"otp", true},
		{"otpCode", true},
		{"totp_seed", true},
		{"session_key", true},
		{"sessionKey", true},
		{"refresh_token", true},
		{"accessToken", true},
		{"client_secret", true},
		{"clientSecret", true},
		{"_csrf_token", true},
		{"X-CSRF-Token", true},
		{"reset", true},
		{"pwd", true},
		{"ssn_last4", true},
		// Short names only as whole words.
		{"shipping", false},
		{"spinner", false},
		{"mapping", false},
		{"hotpot", false},
		{"classname", false},
		{"preset", false},
		{"pwdx", false},
		// Plain fields stay readable.
		{"user_id", false},
		{"name", false},
		{"city", false},
		{"_flash", false},
		{"", false},
		{"__", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SensitiveName(tc.name); got != tc.want {
				t.Errorf("SensitiveName(%q) = %v, want %v (words %q)", tc.name, got, tc.want, nameWords(tc.name))
			}
		})
	}
}

func TestRedactionExtra(t *testing.T) {
	t.Parallel()
	r := NewRedaction([]string{"mother's maiden name", "dob", "--"})
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"mothersMaidenName", true},
		{"MOTHERS_MAIDEN_NAME", true},
		{"mothers_maiden_name_old", true},
		{"mother_s_maiden_name", true},
		{"motherMaidenName", false},
		{"dob", true},
		{"user.DOB", true},
		{"doberman", false},
		{"password", true}, // the built-in list still applies
		{"city", false},
	} {
		if got := r.Sensitive(tc.name); got != tc.want {
			t.Errorf("Sensitive(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if (Redaction{}).Sensitive("dob") {
		t.Error("an extra name leaked into the zero Redaction")
	}
}

func TestNameWords(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"userAPIKey":    {"user", "api", "key"},
		"API-KEY":       {"api", "key"},
		"api_key":       {"api", "key"},
		"X-CSRF-Token":  {"x", "csrf", "token"},
		"warden.user.1": {"warden", "user", "1"},
		"ssn_last4":     {"ssn", "last4"},
		"Ünïcode_Näme":  {"ünïcode", "näme"},
	} {
		if got := nameWords(in); !slices.Equal(got, want) {
			t.Errorf("nameWords(%q) = %q, want %q", in, got, want)
		}
	}
}
