package redisstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"
)

// TLSOptions configure the TLS of a rediss:// URL. The zero value verifies the
// server's certificate against the system roots and the URL's host, which is what a
// managed Redis with a public certificate needs.
type TLSOptions struct {
	CAFile     string // --tls-ca: PEM file of the CA(s) that signed the server's certificate; default the system roots
	CertFile   string // --tls-cert: client certificate (PEM), for servers that require one
	KeyFile    string // --tls-key: the client certificate's private key (PEM)
	ServerName string // --tls-server-name: the name the certificate must hold; default the URL's host
	Insecure   bool   // --tls-insecure: do not verify the certificate at all (warned on every start)
}

// set reports whether any TLS flag was given.
func (o TLSOptions) set() bool {
	return o.CAFile != "" || o.CertFile != "" || o.KeyFile != "" || o.ServerName != "" || o.Insecure
}

// applyTLS completes the tls.Config go-redis made from a rediss:// URL. Every error
// names the flag at fault, because a TLS misconfiguration is otherwise a wall of
// x509 text.
func applyTLS(opts *redis.Options, o TLSOptions) error {
	if opts.TLSConfig == nil {
		if o.set() {
			return errors.New("the --tls-* flags need a rediss:// URL: use rediss://host:port/db in --redis (redis:// is plain TCP)")
		}
		return nil
	}
	c := opts.TLSConfig
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	if o.ServerName != "" {
		c.ServerName = o.ServerName
	}
	if o.Insecure {
		c.InsecureSkipVerify = true
	}
	if o.CAFile != "" {
		pemCA, err := os.ReadFile(o.CAFile)
		if err != nil {
			return fmt.Errorf("--tls-ca: cannot read %s: %v; pass the PEM file of the CA that signed the Redis server's certificate", o.CAFile, unwrapPath(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemCA) {
			return fmt.Errorf("--tls-ca: %s holds no PEM certificate; pass the CA certificate (-----BEGIN CERTIFICATE-----), not a key or a DER file", o.CAFile)
		}
		c.RootCAs = pool
	}
	switch {
	case o.CertFile != "" && o.KeyFile == "":
		return errors.New("--tls-cert needs --tls-key: pass the client certificate's private key too")
	case o.KeyFile != "" && o.CertFile == "":
		return errors.New("--tls-key needs --tls-cert: pass the client certificate too")
	case o.CertFile != "":
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return fmt.Errorf("--tls-cert %s / --tls-key %s: %v; pass the client certificate and its private key, both PEM", o.CertFile, o.KeyFile, unwrapPath(err))
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// insecureWarning is the line printed on every start without verification: a
// man-in-the-middle would see every session id sessionscope reads.
func insecureWarning(addr string) string {
	return fmt.Sprintf("WARNING: TLS certificate verification is OFF for Redis at %s (--tls-insecure or skip_verify): anyone on the network path can impersonate it and read the session ids sessionscope reads; pass --tls-ca FILE instead", addr)
}

// explainTLSError turns a failed TLS handshake into one line saying what failed and
// which flag fixes it; "" when err is not about TLS.
func explainTLSError(addr string, opts *redis.Options, o TLSOptions, err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if opts.TLSConfig == nil {
		if errors.Is(err, io.EOF) || strings.Contains(msg, "connection reset") {
			return fmt.Sprintf("Redis at %s closed the connection during the handshake: if it serves TLS, use rediss:// in --redis", addr)
		}
		return ""
	}
	roots := "the system roots"
	if o.CAFile != "" {
		roots = "the CA in --tls-ca " + o.CAFile
	}
	name := opts.TLSConfig.ServerName
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		recordHd tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &hostname):
		return fmt.Sprintf("TLS: the certificate of Redis at %s is not valid for the name %q (it holds %s): set --tls-server-name to one of those names, or fix the host in --redis",
			addr, name, certNames(hostname.Certificate))
	case errors.As(err, &unknown), strings.Contains(msg, "certificate signed by unknown authority"):
		return fmt.Sprintf("TLS: certificate verification of Redis at %s failed against %s (signed by an unknown authority): pass the CA that signed the server's certificate with --tls-ca FILE",
			addr, roots)
	case errors.As(err, &invalid):
		return fmt.Sprintf("TLS: the certificate of Redis at %s is invalid (%v): renew it on the server, or check this machine's clock", addr, invalid)
	case errors.As(err, &recordHd), strings.Contains(msg, "first record does not look like a TLS handshake"):
		return fmt.Sprintf("Redis at %s does not speak TLS on this port: use redis:// in --redis, or the server's TLS port", addr)
	case strings.Contains(msg, "certificate required"), strings.Contains(msg, "bad certificate"):
		if o.CertFile == "" {
			return fmt.Sprintf("TLS: Redis at %s requires a client certificate: pass --tls-cert FILE and --tls-key FILE", addr)
		}
		return fmt.Sprintf("TLS: Redis at %s refused the client certificate %s: pass one signed by a CA the server trusts (its tls-ca-cert-file)", addr, o.CertFile)
	case strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"):
		return fmt.Sprintf("TLS handshake with Redis at %s failed (%s): check --tls-ca, --tls-server-name and the server's TLS settings", addr, firstLine(msg))
	}
	return ""
}

func certNames(c *x509.Certificate) string {
	if c == nil {
		return "no names"
	}
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, "only the common name "+c.Subject.CommonName)
	}
	if len(names) == 0 {
		return "no names"
	}
	return strings.Join(names, ", ")
}
