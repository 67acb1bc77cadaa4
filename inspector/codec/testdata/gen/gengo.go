//go:build ignore

// gengo writes the msgpack and gob seeds: Flask-Session's msgpack payload and
// gorilla redistore's gob payload. Run from the module root:
//
//	go run ./inspector/codec/testdata/gen/gengo.go inspector/codec/testdata
package main

import (
	"bytes"
	"encoding/gob"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func main() {
	out := os.Args[1]
	must(os.MkdirAll(filepath.Join(out, "msgpack"), 0o755))
	must(os.MkdirAll(filepath.Join(out, "gob"), 0o755))

	// Flask-Session 0.6+ stores the session dict with msgpack; keys keep the
	// order the app set them in, which an ordered encoder preserves.
	var b bytes.Buffer
	enc := msgpack.NewEncoder(&b)
	must(enc.EncodeMapLen(6))
	must(enc.EncodeString("_permanent"))
	must(enc.EncodeBool(true))
	must(enc.EncodeString("user_id"))
	must(enc.EncodeInt(42))
	must(enc.EncodeString("csrf_token"))
	must(enc.EncodeString("f00dfacecafebabe0123456789abcdef01234567"))
	must(enc.EncodeString("cart"))
	must(enc.Encode([]any{map[string]any{"sku": "A-1"}, 2.5, nil, []byte{0, 1, 2}}))
	must(enc.EncodeString("_fresh"))
	must(enc.EncodeBool(false))
	must(enc.EncodeString("login_at"))
	must(enc.EncodeTime(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)))
	write(filepath.Join(out, "msgpack", "flask.bin"), b.Bytes())

	// gorilla/sessions' redistore gob-encodes session.Values.
	gob.Register(map[interface{}]interface{}{})
	vals := map[interface{}]interface{}{"user_id": 42, "name": "ada"}
	var g bytes.Buffer
	must(gob.NewEncoder(&g).Encode(vals))
	write(filepath.Join(out, "gob", "redistore.bin"), g.Bytes())
}

func write(path string, b []byte) { must(os.WriteFile(path, b, 0o644)) }

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
