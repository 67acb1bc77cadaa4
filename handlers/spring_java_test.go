package handlers_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

const springJavaKey = "spring:session:sessions:6f1c9a52-3d4e-4b7a-9c1d-2e8f0a7b5c31"

// javaSeed reads a stream the JDK's ObjectOutputStream wrote (see
// inspector/codec/testdata/java/Gen.java).
func javaSeed(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "inspector", "codec", "testdata", "java", name+".ser"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// childNode finds a node of the API payload tree by key.
func childNode(nodes []springNode, key string) (springNode, bool) {
	for _, n := range nodes {
		if n.Key == key {
			return n, true
		}
	}
	return springNode{}, false
}

// springNode is the part of the API's payload tree the test reads.
type springNode struct {
	Key      string       `json:"key"`
	Kind     string       `json:"kind"`
	Class    string       `json:"class"`
	Value    any          `json:"value"`
	Redacted bool         `json:"redacted"`
	Children []springNode `json:"children"`
}

// walk follows keys down the tree, failing the test when one is missing.
func walk(t *testing.T, nodes []springNode, keys ...string) springNode {
	t.Helper()
	var n springNode
	for i, k := range keys {
		var ok bool
		if n, ok = childNode(nodes, k); !ok {
			t.Fatalf("no node %q under %v", k, keys[:i])
		}
		nodes = n.Children
	}
	return n
}

// TestSpringSessionJavaAttributes: a Spring Session hash written as
// JdkSerializationRedisSerializer writes it (creationTime, lastAccessedTime,
// maxInactiveInterval and a Java-serialized SPRING_SECURITY_CONTEXT) is read
// from a real Redis, and the session API shows the login decoded: the
// principal's username and authenticated true, and never the password value
// while values are redacted, the User's password field being redacted by its
// name like any decoded field.
func TestSpringSessionJavaAttributes(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{Tracker: tracker.Config{}})
	env.Do(t, "HSET", springJavaKey,
		"creationTime", javaSeed(t, "long"),
		"lastAccessedTime", javaSeed(t, "long"),
		"maxInactiveInterval", javaSeed(t, "integer"),
		"sessionAttr:SPRING_SECURITY_CONTEXT", javaSeed(t, "security_context"),
		"sessionAttr:cart", javaSeed(t, "shared"),
		"sessionAttr:currentUser", javaSeed(t, "user"))
	env.Do(t, "EXPIRE", springJavaKey, 1800)
	ref := uitest.RefOfKey(springJavaKey)
	env.WaitEvent(t, model.KindCreated, ref)
	uitest.WaitFor(t, "payload of the Spring session read", func() bool {
		d, err := env.In.Session(ref)
		return err == nil && d.Payload != nil && len(d.Payload.Fields) == 3
	})

	type sessionPage struct {
		Payload struct {
			Format string       `json:"format"`
			Fields []springNode `json:"fields"`
		} `json:"payload"`
	}
	t.Run("revealed", func(t *testing.T) {
		app := redactionApp(t, env.In, true)
		var page sessionPage
		getJSON(t, app, "/api/sessions/"+ref, 200, &page)
		if page.Payload.Format != "spring_hash" {
			t.Fatalf("format = %q", page.Payload.Format)
		}
		ctx := walk(t, page.Payload.Fields, "SPRING_SECURITY_CONTEXT")
		if ctx.Kind != "object" || ctx.Class != "org.springframework.security.core.context.SecurityContextImpl" {
			t.Fatalf("context = %+v", ctx)
		}
		if n := walk(t, ctx.Children, "authentication", "principal", "username"); n.Value != "ada" {
			t.Fatalf("username = %+v", n)
		}
		if n := walk(t, ctx.Children, "authentication", "authenticated"); n.Kind != "bool" || n.Value != true {
			t.Fatalf("authenticated = %+v", n)
		}
		if n := walk(t, page.Payload.Fields, "cart", "0", "sku"); n.Value != "SKU-1" {
			t.Fatalf("cart.0.sku = %+v", n)
		}
	})
	t.Run("redacted", func(t *testing.T) {
		app := redactionApp(t, env.In, false)
		status, body := get(t, app, "/api/sessions/"+ref)
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		if strings.Contains(string(body), "s3cr3t-pw") {
			t.Fatalf("the password value is in the API object:\n%s", body)
		}
		var page sessionPage
		getJSON(t, app, "/api/sessions/"+ref, 200, &page)
		ctx := walk(t, page.Payload.Fields, "SPRING_SECURITY_CONTEXT")
		if ctx.Class != "org.springframework.security.core.context.SecurityContextImpl" {
			t.Fatalf("context = %+v", ctx)
		}
		if n := walk(t, page.Payload.Fields, "cart", "0", "sku"); n.Value != "SKU-1" {
			t.Fatalf("cart.0.sku = %+v", n)
		}
		if n := walk(t, page.Payload.Fields, "currentUser", "username"); n.Value != "ada" {
			t.Fatalf("currentUser.username = %+v", n)
		}
		// The login stays readable: who logged in is no secret, the password is.
		if n := walk(t, ctx.Children, "authentication", "principal", "username"); n.Value != "ada" {
			t.Fatalf("authentication.principal.username = %+v, want ada shown", n)
		}
		if n := walk(t, ctx.Children, "authentication", "principal", "password"); !n.Redacted || n.Value != nil {
			t.Fatalf("authentication.principal.password = %+v, want redacted", n)
		}
		if d, err := env.In.Session(ref); err != nil || !d.Row.Authenticated {
			t.Fatalf("the Spring session with a security context is not authenticated (%v)", err)
		}
		if n := walk(t, page.Payload.Fields, "currentUser", "password"); !n.Redacted || n.Value != nil {
			t.Fatalf("currentUser.password = %+v, want redacted", n)
		}
		_, body = get(t, app, "/sessions/"+ref)
		if strings.Contains(string(body), "s3cr3t-pw") {
			t.Fatal("the password value is on the session page")
		}
	})
}
