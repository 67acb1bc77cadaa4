package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

func openTLS(url string, o redisstore.TLSOptions) (*redisstore.Store, error) {
	return redisstore.Open(context.Background(), redisstore.Config{URL: url,
		Matcher: framework.NewMatcher(framework.Builtin()), TLS: o})
}

// TestTLSConnectsAndStreams attaches over TLS with certificates the test generated,
// checks the certificate (and, where given, presents a client one), and sees a session
// created through the TLS server.
func TestTLSConnectsAndStreams(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{TLS: true})
	c := srv.Certs
	for _, tc := range []struct {
		name string
		url  string
		opts redisstore.TLSOptions
	}{
		{"CA only", srv.URL(), redisstore.TLSOptions{CAFile: c.CAFile}},
		{"client certificate", srv.URL(), redisstore.TLSOptions{CAFile: c.CAFile, CertFile: c.ClientCertFile, KeyFile: c.ClientKeyFile}},
		{"server name", srv.URL(), redisstore.TLSOptions{CAFile: c.CAFile, ServerName: redistest.TLSServerName}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := openTLS(tc.url, tc.opts)
			if err != nil {
				t.Fatalf("open %s: %v", tc.url, err)
			}
			t.Cleanup(func() { _ = store.Close() })
			if w := store.Warnings(); len(w) != 0 {
				t.Errorf("verified TLS warns: %q", w)
			}
			w := watch(t, store)
			w.WaitLive()
			id := "tls" + strings.ReplaceAll(tc.name, " ", "") + "0001"
			srv.Do(t, "SET", "PHPREDIS_SESSION:"+id, "a|i:1;", "EX", "60")
			w.WaitEvent(model.KindCreated, id)
		})
	}
}

// TestTLSRefused: every way the TLS setup can be wrong gives one line naming what
// failed and the flag that fixes it.
func TestTLSRefused(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{TLS: true})
	strict := redistest.Start(t, redistest.Options{TLS: true, Args: []string{"--tls-auth-clients", "yes"}})
	wrong := redistest.GenerateCerts(t, t.TempDir(), "wrong")
	for _, tc := range []struct {
		name string
		url  string
		opts redisstore.TLSOptions
		want []string
	}{
		{"wrong CA", srv.URL(), redisstore.TLSOptions{CAFile: wrong.CAFile},
			[]string{"certificate verification", "against the CA in --tls-ca " + wrong.CAFile, "pass the CA", "--tls-ca"}},
		{"system roots", srv.URL(), redisstore.TLSOptions{},
			[]string{"certificate verification", "against the system roots", "--tls-ca"}},
		{"server name not in certificate", srv.URL(), redisstore.TLSOptions{CAFile: srv.Certs.CAFile, ServerName: "redis.example.org"},
			[]string{`not valid for the name "redis.example.org"`, redistest.TLSServerName, "--tls-server-name"}},
		{"client certificate required", strict.URL(), redisstore.TLSOptions{CAFile: strict.Certs.CAFile},
			[]string{"requires a client certificate", "--tls-cert", "--tls-key"}},
		{"plain redis:// to a TLS port", "redis://" + srv.Addr + "/0", redisstore.TLSOptions{},
			[]string{"use rediss://"}},
		{"TLS flags on redis://", "redis://" + srv.Addr + "/0", redisstore.TLSOptions{CAFile: srv.Certs.CAFile},
			[]string{"--tls-* flags need a rediss:// URL"}},
		{"CA file missing", srv.URL(), redisstore.TLSOptions{CAFile: "/nonexistent/ca.pem"},
			[]string{"--tls-ca: cannot read /nonexistent/ca.pem", "no such file"}},
		{"CA file is a key", srv.URL(), redisstore.TLSOptions{CAFile: srv.Certs.ClientKeyFile},
			[]string{"holds no PEM certificate"}},
		{"cert without key", srv.URL(), redisstore.TLSOptions{CAFile: srv.Certs.CAFile, CertFile: srv.Certs.ClientCertFile},
			[]string{"--tls-cert needs --tls-key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := openTLS(tc.url, tc.opts)
			if err == nil {
				_ = store.Close()
				t.Fatal("connected; want a refusal")
			}
			if !errors.Is(err, redisstore.ErrConnect) {
				t.Errorf("error does not wrap ErrConnect (exit status 2): %v", err)
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
		})
	}
}

// TestTLSInsecure connects without verifying (no CA given, so verification would
// fail) and carries the warning the caller prints on every start; skip_verify in the
// URL is the same hole and warns the same.
func TestTLSInsecure(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{TLS: true})
	for _, tc := range []struct {
		name string
		url  string
		opts redisstore.TLSOptions
	}{
		{"--tls-insecure", srv.URL(), redisstore.TLSOptions{Insecure: true}},
		{"skip_verify in the URL", srv.URL() + "?skip_verify=true", redisstore.TLSOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := openTLS(tc.url, tc.opts)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { _ = store.Close() })
			warnings := store.Warnings()
			if len(warnings) != 1 || !strings.Contains(warnings[0], "verification is OFF") ||
				!strings.Contains(warnings[0], srv.Addr) || strings.Contains(warnings[0], "\n") {
				t.Fatalf("warnings %q, want one line saying verification is off for %s", warnings, srv.Addr)
			}
			w := watch(t, store)
			w.WaitLive()
			id := "insecure" + strings.NewReplacer(" ", "", "-", "").Replace(tc.name)
			srv.Do(t, "SET", "PHPREDIS_SESSION:"+id, "a|i:1;", "EX", "60")
			w.WaitEvent(model.KindCreated, id)
		})
	}
}
