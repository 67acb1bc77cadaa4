package tracker

import (
	"testing"

	"github.com/sessionscope/sessionscope/inspector/framework"
)

// TestAuthMarkerHoldsAnIdentity: a marker counts only when it holds who logged in.
// Preferences kept under "user", and markers a logout emptied, are not logins.
func TestAuthMarkerHoldsAnIdentity(t *testing.T) {
	php := &framework.Builtin()[0]
	var express *framework.Framework
	for i, fw := range framework.Builtin() {
		if fw.Name == "express" {
			express = &framework.Builtin()[i]
		}
	}
	for _, tc := range []struct {
		name string
		fw   *framework.Framework
		data string
		want bool
	}{
		{"preferences under user", php, `user|a:2:{s:5:"theme";s:4:"dark";s:4:"lang";s:2:"en";}`, false},
		{"a user map with an id", php, `user|a:2:{s:2:"id";i:42;s:5:"theme";s:4:"dark";}`, true},
		{"a user map with a name", php, `user|a:1:{s:4:"name";s:3:"ada";}`, true},
		{"a scalar user", php, `user|s:3:"ada";`, true},
		{"user_id", php, `user_id|i:42;`, true},
		{"user_id emptied by a logout", php, `user_id|N;`, false},
		{"an empty user_id", php, `user_id|s:0:"";`, false},
		{"user_id zero", php, `user_id|i:0;`, false},
		{"a user object with a private id", php, "user|O:4:\"User\":1:{s:8:\"\x00User\x00id\";i:7;}", true},
		{"a user object of settings", php, "user|O:5:\"Prefs\":1:{s:5:\"theme\";s:4:\"dark\";}", false},
		{"Laravel's login_web_ key", php, `login_web_59ba36addc2b2f9401580f014c7f58ea4e30989d|i:1;`, true},
		{"a user map nesting the account", php, `user|a:1:{s:7:"account";a:1:{s:5:"email";s:7:"a@b.org";}}`, true},
		{"passport.user", express, `{"cookie":{},"passport":{"user":"42"}}`, true},
		{"passport without a user", express, `{"cookie":{},"passport":{}}`, false},
		{"passport.user as an object with an id", express, `{"cookie":{},"passport":{"user":{"id":7,"roles":["a"]}}}`, true},
		{"a JSON user of settings", express, `{"cookie":{},"user":{"theme":"dark","fontSize":14}}`, false},
		{"userId", express, `{"cookie":{},"userId":"u-1"}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decoded(t, tc.fw, tc.data).auth; got != tc.want {
				t.Errorf("auth %v, want %v", got, tc.want)
			}
		})
	}
}
