package redisstore

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// subscription is a keyevent subscription on a client of its own, whose connections
// count the reads they make from the socket. Redis writes all the notifications of
// one command in one write, so a message that comes without a new read came with the
// one before it. Counting reads says that exactly; timing the receive (as before)
// failed whenever the reader was descheduled between two messages of one command.
type subscription struct {
	*redis.PubSub
	client *redis.Client
	reads  *atomic.Uint64
}

// subscribe opens the pattern subscription with opts' address, credentials and TLS.
// The client has no other use: go-redis dials a subscription's connection apart
// from its pool, so this opens no connection besides that one.
func subscribe(ctx context.Context, opts *redis.Options, pattern string) *subscription {
	reads := new(atomic.Uint64)
	o := *opts
	dial := redis.NewDialer(opts)
	o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, reads: reads}, nil
	}
	client := redis.NewClient(&o)
	return &subscription{PubSub: client.PSubscribe(ctx, pattern), client: client, reads: reads}
}

// Close ends the subscription and its client.
func (s *subscription) Close() error {
	err := s.PubSub.Close()
	_ = s.client.Close()
	return err
}

// countingConn counts the Read calls its reader makes on the socket.
type countingConn struct {
	net.Conn
	reads *atomic.Uint64
}

func (c countingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}
