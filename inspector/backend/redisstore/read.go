package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/codec"
	"github.com/sessionscope/sessionscope/inspector/framework"
)

// maxHashFields caps how many fields of a hash session are read; Spring sessions hold
// a handful, so anything far larger is not worth a full HGETALL on the watched server.
const maxHashFields = 512

// Read implements backend.Store. String payloads are read as STRLEN plus a GETRANGE
// capped at MaxBytes in one pipeline, so an oversized value is never transferred whole.
// Hash payloads take a second round trip: HLEN first, HGETALL only when it is small.
func (s *Store) Read(ctx context.Context, reqs []backend.ReadRequest) []backend.ReadResult {
	out := make([]backend.ReadResult, len(reqs))
	type cmds struct {
		ttl   *redis.DurationCmd
		size  *redis.IntCmd
		data  *redis.StringCmd
		hsize *redis.IntCmd
	}
	cs := make([]cmds, len(reqs))
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range reqs {
			if r.Locate && s.FollowsPart() {
				continue // asked on its own below: the pipeline does not say which master answered
			}
			cs[i].ttl = p.PTTL(ctx, r.Key)
			if r.TTLOnly {
				continue
			}
			limit := r.MaxBytes
			if limit <= 0 {
				limit = s.cfg.MaxPayloadBytes
			}
			if r.Type == framework.KeyHash {
				cs[i].hsize = p.HLen(ctx, r.Key)
				continue
			}
			cs[i].size = p.StrLen(ctx, r.Key)
			cs[i].data = p.GetRange(ctx, r.Key, 0, int64(limit-1))
		}
		return nil
	})
	var hashKeys, locates []int
	for i, r := range reqs {
		res := &out[i]
		res.Key = r.Key
		res.TTLOnly = r.TTLOnly
		if cs[i].ttl == nil {
			locates = append(locates, i)
			continue
		}
		ttl, err := cs[i].ttl.Result()
		if err != nil {
			res.Err = fmt.Errorf("redis backend: pttl %q: %w", r.Key, explainPerm(err, "+pttl (@read)"))
			continue
		}
		if ttl == -2 {
			continue // gone: Exists stays false
		}
		res.Exists = true
		res.TTL = ttl
		if ttl < 0 {
			res.TTL = -1
		}
		if r.TTLOnly {
			continue
		}
		if r.Type == framework.KeyHash {
			n, err := cs[i].hsize.Result()
			if err != nil {
				res.Err = fmt.Errorf("redis backend: hlen %q: %w", r.Key, explainPerm(err, "+hlen (@read)"))
				continue
			}
			res.Size = int(n)
			if n > maxHashFields {
				res.Truncated = true
				continue
			}
			hashKeys = append(hashKeys, i)
			continue
		}
		size, err := cs[i].size.Result()
		if err != nil {
			res.Err = fmt.Errorf("redis backend: strlen %q: %w", r.Key, explainPerm(err, "+strlen (@read)"))
			continue
		}
		data, err := cs[i].data.Bytes()
		if err != nil && err != redis.Nil {
			res.Err = fmt.Errorf("redis backend: getrange %q: %w", r.Key, explainPerm(err, "+getrange (@read)"))
			continue
		}
		res.Size = int(size)
		res.Data = data
		res.Truncated = int(size) > len(data)
	}
	if len(hashKeys) > 0 {
		s.readHashes(ctx, reqs, out, hashKeys)
	}
	if len(locates) > 0 {
		s.locate(ctx, reqs, out, locates)
	}
	return out
}

func (s *Store) readHashes(ctx context.Context, reqs []backend.ReadRequest, out []backend.ReadResult, idx []int) {
	hcmds := make([]*redis.MapStringStringCmd, len(idx))
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for j, i := range idx {
			hcmds[j] = p.HGetAll(ctx, reqs[i].Key)
		}
		return nil
	})
	for j, i := range idx {
		m, err := hcmds[j].Result()
		if err != nil {
			out[i].Err = fmt.Errorf("redis backend: hgetall %q: %w", reqs[i].Key, explainPerm(err, "+hgetall (@read)"))
			continue
		}
		if len(m) == 0 {
			out[i].Exists = false
			continue
		}
		fields := make([]codec.HashField, 0, len(m))
		for k, v := range m {
			fields = append(fields, codec.HashField{Name: k, Value: []byte(v)})
		}
		out[i].Hash = fields
	}
}
