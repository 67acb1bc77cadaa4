package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TLSServerName is a DNS name the generated server certificate holds besides
// 127.0.0.1 and localhost, so tests can exercise --tls-server-name.
const TLSServerName = "redis.sessionscope.test"

// Certs are PEM files written by GenerateCerts: a CA, a server certificate for
// 127.0.0.1, localhost and TLSServerName, and a client certificate, all signed by it.
type Certs struct {
	CAFile, ServerCertFile, ServerKeyFile, ClientCertFile, ClientKeyFile string
}

// GenerateCerts writes a fresh CA and the certificates it signs into a new directory
// under dir, named after name. Calling it twice gives two unrelated CAs, which is how
// a test gets a "wrong CA".
func GenerateCerts(t testing.TB, dir, name string) Certs {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatalf("redistest: certs dir: %v", err)
	}
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "sessionscope test CA " + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("redistest: create CA: %v", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	c := Certs{
		CAFile:         filepath.Join(d, "ca.crt"),
		ServerCertFile: filepath.Join(d, "server.crt"),
		ServerKeyFile:  filepath.Join(d, "server.key"),
		ClientCertFile: filepath.Join(d, "client.crt"),
		ClientKeyFile:  filepath.Join(d, "client.key"),
	}
	writePEM(t, c.CAFile, "CERTIFICATE", caDER)
	leaf := func(certFile, keyFile, cn string, usage x509.ExtKeyUsage, server bool) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: serial(t),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if server {
			tmpl.DNSNames = []string{"localhost", TLSServerName}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatalf("redistest: create %s certificate: %v", cn, err)
		}
		writePEM(t, certFile, "CERTIFICATE", der)
		kb, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatalf("redistest: marshal key: %v", err)
		}
		writePEM(t, keyFile, "PRIVATE KEY", kb)
	}
	leaf(c.ServerCertFile, c.ServerKeyFile, "redis server", x509.ExtKeyUsageServerAuth, true)
	leaf(c.ClientCertFile, c.ClientKeyFile, "sessionscope client", x509.ExtKeyUsageClientAuth, false)
	return c
}

// ClientConfig is a tls.Config that trusts the CA and presents the client
// certificate: what the helper's own admin connections use.
func (c Certs) ClientConfig() (*tls.Config, error) {
	pemCA, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		return nil, fmt.Errorf("no certificate in %s", c.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(c.ClientCertFile, c.ClientKeyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, nil
}

// tlsArgs are the redis-server arguments that serve TLS only on port, with client
// certificates optional so tests can connect both with and without one.
func tlsArgs(c Certs, port string) []string {
	return []string{
		"--port", "0", "--tls-port", port,
		"--tls-cert-file", c.ServerCertFile, "--tls-key-file", c.ServerKeyFile,
		"--tls-ca-cert-file", c.CAFile, "--tls-auth-clients", "optional",
	}
}

// replacePort swaps "--port P" in args for the TLS arguments.
func replacePort(args []string, c Certs) []string {
	out := make([]string, 0, len(args)+10)
	for i := 0; i < len(args); i++ {
		if args[i] == "--port" && i+1 < len(args) {
			out = append(out, tlsArgs(c, args[i+1])...)
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("redistest: generate key: %v", err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("redistest: serial: %v", err)
	}
	return n
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("redistest: write %s: %v", path, err)
	}
}

// aclSetUser applies one ACL SETUSER rule given as "name rule rule ...".
func aclSetUser(s *Server, rule string) error {
	args := append([]string{"ACL", "SETUSER"}, strings.Fields(rule)...)
	_, err := s.command(args...)
	return err
}
