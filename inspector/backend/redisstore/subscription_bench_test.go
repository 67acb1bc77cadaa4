package redisstore

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend"
)

// BenchmarkSubscriptionRead reads keyspace notifications from a stand-in server that
// streams SETEX's three notifications over 100,000 keys, with go-redis' PubSub (the
// reader before) and with the subscription's own reader, side by side. One op is one
// notification, turned into what the store's reader needs: its op and its key as a
// string.
func BenchmarkSubscriptionRead(b *testing.B) {
	addr := startNotifyServer(b)
	opts := &redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true}
	prefix := "__keyevent@0__:"
	b.Run("go-redis", func(b *testing.B) {
		client := redis.NewClient(opts)
		defer client.Close()
		ctx := context.Background()
		ps := client.PSubscribe(ctx, prefix+"*")
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			msg, err := ps.ReceiveTimeout(ctx, time.Second)
			if err != nil {
				b.Fatal(err)
			}
			m := msg.(*redis.Message)
			op, _ := backend.ParseOp(strings.TrimPrefix(m.Channel, prefix))
			if op == 0 || m.Payload == "" {
				b.Fatalf("message %+v", m)
			}
		}
	})
	b.Run("sessionscope", func(b *testing.B) {
		s := subscribe(context.Background(), opts, prefix+"*")
		defer s.Close()
		ctx := context.Background()
		if _, err := s.Receive(ctx); err != nil {
			b.Fatal(err)
		}
		var keys keyIntern
		last := ""
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			n, err := s.receive(ctx, time.Second)
			if err != nil {
				b.Fatal(err)
			}
			op, _ := backend.ParseOp(string(n.Channel[len(prefix):]))
			if string(n.Payload) != last {
				last = keys.get(n.Payload)
			}
			if op == 0 || last == "" {
				b.Fatalf("notification %+v", n)
			}
		}
	})
}

// startNotifyServer serves just enough RESP for a subscription: an old server's
// refusal of HELLO and +OK to the rest of the handshake, +PONG to PING, and after
// PSUBSCRIBE its confirmation and an endless stream of SETEX notifications, until the
// client goes.
func startNotifyServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	var block []byte
	frame := func(ch, key string) {
		pat := "__keyevent@0__:*"
		block = fmt.Appendf(block, "*4\r\n$8\r\npmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(pat), pat, len(ch), ch, len(key), key)
	}
	for i := range 1000 {
		key := fmt.Sprintf("PHPREDIS_SESSION:%032x", (i*7919)%100_000)
		frame("__keyevent@0__:set", key)
		frame("__keyevent@0__:expire", key)
		frame("__keyevent@0__:new", key)
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveNotify(conn, block)
		}
	}()
	return ln.Addr().String()
}

func serveNotify(conn net.Conn, block []byte) {
	defer conn.Close()
	rd := bufio.NewReader(conn)
	for {
		args, err := readCommand(rd)
		if err != nil {
			return
		}
		switch strings.ToUpper(args[0]) {
		case "HELLO": // as Redis 5 would: go-redis then speaks RESP2 without it
			_, err = conn.Write([]byte("-ERR unknown command 'HELLO'\r\n"))
		case "PING":
			_, err = conn.Write([]byte("+PONG\r\n"))
		case "PSUBSCRIBE":
			if _, err := fmt.Fprintf(conn, "*3\r\n$10\r\npsubscribe\r\n$%d\r\n%s\r\n:1\r\n", len(args[1]), args[1]); err != nil {
				return
			}
			for {
				if _, err := conn.Write(block); err != nil {
					return
				}
			}
		default:
			_, err = conn.Write([]byte("+OK\r\n"))
		}
		if err != nil {
			return
		}
	}
}

// readCommand reads one RESP command (an array of bulk strings).
func readCommand(rd *bufio.Reader) ([]string, error) {
	var n int
	if _, err := fmt.Fscanf(rd, "*%d\r\n", &n); err != nil {
		return nil, err
	}
	args := make([]string, n)
	for i := range args {
		var l int
		if _, err := fmt.Fscanf(rd, "$%d\r\n", &l); err != nil {
			return nil, err
		}
		buf := make([]byte, l+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:l])
	}
	return args, nil
}
