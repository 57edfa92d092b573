package main

import (
	"context"
	"net"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestReferenceAnswersLikeRedis: the reference server gives the replies
// Redis gives to what redis-benchmark's tests send, so redis-benchmark
// counts the same work on both.
func TestReferenceAnswersLikeRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := newReferenceServer(addr)
	listening := make(chan error, 1)
	go srv.ListenServeAndSignal(listening)
	if err := <-listening; err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}
	if err := c.Set(ctx, "k", "xxx", 0).Err(); err != nil {
		t.Fatal(err)
	}
	check("GET", c.Get(ctx, "k").Val(), "xxx")
	check("GET missing", c.Get(ctx, "nokey").Err(), redis.Nil)
	check("INCR new", c.Incr(ctx, "counter").Val(), int64(1))
	check("INCR", c.Incr(ctx, "counter").Val(), int64(2))
	check("INCR not a number", c.Incr(ctx, "k").Err().Error(), "ERR value is not an integer or out of range")
	check("LPUSH", c.LPush(ctx, "mylist", "a", "b").Val(), int64(2))
	check("LPOP", c.LPop(ctx, "mylist").Val(), "b")
	check("LPOP", c.LPop(ctx, "mylist").Val(), "a")
	check("LPOP empty", c.LPop(ctx, "mylist").Err(), redis.Nil)
	check("SADD", c.SAdd(ctx, "myset", "a", "b", "a").Val(), int64(2))
	check("SADD again", c.SAdd(ctx, "myset", "a").Val(), int64(0))
	check("HSET", c.HSet(ctx, "myhash", "f", "v", "g", "w").Val(), int64(2))
	check("HSET again", c.HSet(ctx, "myhash", "f", "v2").Val(), int64(0))
	check("ZADD", c.ZAdd(ctx, "myzset", redis.Z{Score: 0, Member: "m"}).Val(), int64(1))
	check("ZADD again", c.ZAdd(ctx, "myzset", redis.Z{Score: 1, Member: "m"}).Val(), int64(0))
	check("MSET", c.MSet(ctx, "a", "1", "b", "2").Val(), "OK")
	check("GET after MSET", c.Get(ctx, "b").Val(), "2")
	check("PING", c.Ping(ctx).Val(), "PONG")
	check("GET arity", c.Do(ctx, "GET").Err().Error(), "ERR wrong number of arguments for 'get' command")
}
