package cluster

import (
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// These tests drive each command family through go-redis, a real client,
// against a real node, with the values Redis 7.0 answers.

func check[T any](t *testing.T, what string, got T, err error, want T) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func forBothProtocols(t *testing.T, fn func(t *testing.T, c *redis.Client)) {
	s := startServer(t)
	for _, p := range []int{2, 3} {
		t.Run(map[int]string{2: "RESP2", 3: "RESP3"}[p], func(t *testing.T) {
			c := client(t, s, func(o *redis.Options) { o.Protocol = p })
			c.FlushAll(ctxT(t))
			fn(t, c)
		})
	}
}

func TestStringsWithGoRedis(t *testing.T) {
	forBothProtocols(t, func(t *testing.T, c *redis.Client) {
		ctx := ctxT(t)
		r1, e1 := c.Set(ctx, "s", "hello", 0).Result()
		check(t, "SET", r1, e1, "OK")
		r2, e2 := c.Get(ctx, "s").Result()
		check(t, "GET", r2, e2, "hello")
		_, err := c.Get(ctx, "missing").Result()
		if err != redis.Nil {
			t.Errorf("GET missing: %v, want redis.Nil", err)
		}
		r3, e3 := c.Append(ctx, "s", " world").Result()
		check(t, "APPEND", r3, e3, int64(11))
		r4, e4 := c.GetRange(ctx, "s", -5, -1).Result()
		check(t, "GETRANGE", r4, e4, "world")
		r5, e5 := c.Incr(ctx, "n").Result()
		check(t, "INCR", r5, e5, int64(1))
		r6, e6 := c.IncrBy(ctx, "n", 41).Result()
		check(t, "INCRBY", r6, e6, int64(42))
		r7, e7 := c.IncrByFloat(ctx, "f", 10.5).Result()
		check(t, "INCRBYFLOAT", r7, e7, 10.5)
		r8, e8 := c.MSet(ctx, "a", "1", "b", "2").Result()
		check(t, "MSET", r8, e8, "OK")
		r9, e9 := c.MGet(ctx, "a", "b", "nope").Result()
		check(t, "MGET", r9, e9, []any{"1", "2", nil})
		ok, err := c.SetNX(ctx, "a", "x", 0).Result()
		check(t, "SETNX", ok, err, false)
		if err := c.Incr(ctx, "s").Err(); err == nil || err.Error() != "ERR value is not an integer or out of range" {
			t.Errorf("INCR on text: %v", err)
		}
		r10, e10 := c.SetBit(ctx, "bits", 7, 1).Result()
		check(t, "SETBIT", r10, e10, int64(0))
		r11, e11 := c.BitCount(ctx, "bits", nil).Result()
		check(t, "BITCOUNT", r11, e11, int64(1))
		r12, e12 := c.GetEx(ctx, "a", time.Minute).Result()
		check(t, "GETEX", r12, e12, "1")
		ttl, err := c.TTL(ctx, "a").Result()
		if err != nil || ttl <= 55*time.Second || ttl > time.Minute {
			t.Errorf("TTL after GETEX EX 60 = %v, %v", ttl, err)
		}
		r13, e13 := c.GetDel(ctx, "b").Result()
		check(t, "GETDEL", r13, e13, "2")
		r14, e14 := c.StrLen(ctx, "s").Result()
		check(t, "STRLEN", r14, e14, int64(11))
	})
}

func TestKeysWithGoRedis(t *testing.T) {
	forBothProtocols(t, func(t *testing.T, c *redis.Client) {
		ctx := ctxT(t)
		c.MSet(ctx, "k1", "v", "k2", "v", "other", "v")
		r1, e1 := c.Exists(ctx, "k1", "k2", "nope").Result()
		check(t, "EXISTS", r1, e1, int64(2))
		r2, e2 := c.Type(ctx, "k1").Result()
		check(t, "TYPE", r2, e2, "string")
		keys, err := c.Keys(ctx, "k*").Result()
		sort.Strings(keys)
		check(t, "KEYS", keys, err, []string{"k1", "k2"})
		var scanned []string
		iter := c.Scan(ctx, 0, "*", 1).Iterator()
		for iter.Next(ctx) {
			scanned = append(scanned, iter.Val())
		}
		sort.Strings(scanned)
		check(t, "SCAN", scanned, iter.Err(), []string{"k1", "k2", "other"})
		r3, e3 := c.Expire(ctx, "k1", 100*time.Second).Result()
		check(t, "EXPIRE", r3, e3, true)
		r4, e4 := c.ExpireNX(ctx, "k1", 5*time.Second).Result()
		check(t, "EXPIRE NX on a volatile key", r4, e4, false)
		r5, e5 := c.Persist(ctx, "k1").Result()
		check(t, "PERSIST", r5, e5, true)
		r6, e6 := c.TTL(ctx, "k1").Result()
		check(t, "TTL", r6, e6, time.Duration(-1))
		c.PExpire(ctx, "k2", 50*time.Millisecond)
		time.Sleep(120 * time.Millisecond)
		r7, e7 := c.Exists(ctx, "k2").Result()
		check(t, "EXISTS after expiry", r7, e7, int64(0))
		r8, e8 := c.Rename(ctx, "other", "renamed").Result()
		check(t, "RENAME", r8, e8, "OK")
		r9, e9 := c.Copy(ctx, "renamed", "copied", 0, false).Result()
		check(t, "COPY", r9, e9, int64(1))
		r10, e10 := c.Del(ctx, "renamed", "copied", "nope").Result()
		check(t, "DEL", r10, e10, int64(2))
		// k2 expired: Redis deletes it when EXISTS reads it, Flotilla's
		// reads do not write (they share the lock), so active expiry
		// deletes it within a few cron ticks.
		r11, e11 := c.DBSize(ctx).Result()
		for deadline := time.Now().Add(2 * time.Second); e11 == nil && r11 != 1 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			r11, e11 = c.DBSize(ctx).Result()
		}
		check(t, "DBSIZE", r11, e11, int64(1))
		r12, e12 := c.ObjectEncoding(ctx, "k1").Result()
		check(t, "OBJECT ENCODING", r12, e12, "embstr")
	})
}

func TestHashesWithGoRedis(t *testing.T) {
	forBothProtocols(t, func(t *testing.T, c *redis.Client) {
		ctx := ctxT(t)
		r1, e1 := c.HSet(ctx, "h", "a", "1", "b", "2").Result()
		check(t, "HSET", r1, e1, int64(2))
		r2, e2 := c.HGetAll(ctx, "h").Result()
		check(t, "HGETALL", r2, e2, map[string]string{"a": "1", "b": "2"})
		r3, e3 := c.HIncrBy(ctx, "h", "a", 9).Result()
		check(t, "HINCRBY", r3, e3, int64(10))
		r4, e4 := c.HIncrByFloat(ctx, "h", "f", 0.5).Result()
		check(t, "HINCRBYFLOAT", r4, e4, 0.5)
		r5, e5 := c.HMGet(ctx, "h", "a", "zz").Result()
		check(t, "HMGET", r5, e5, []any{"10", nil})
		r6, e6 := c.HDel(ctx, "h", "b", "zz").Result()
		check(t, "HDEL", r6, e6, int64(1))
		r7, e7 := c.HLen(ctx, "h").Result()
		check(t, "HLEN", r7, e7, int64(2))
		r8, e8 := c.HExists(ctx, "h", "f").Result()
		check(t, "HEXISTS", r8, e8, true)
		fields, err := c.HRandField(ctx, "h", 5).Result()
		sort.Strings(fields)
		check(t, "HRANDFIELD 5", fields, err, []string{"a", "f"})
	})
}

func TestListsWithGoRedis(t *testing.T) {
	forBothProtocols(t, func(t *testing.T, c *redis.Client) {
		ctx := ctxT(t)
		r1, e1 := c.RPush(ctx, "l", "a", "b", "c").Result()
		check(t, "RPUSH", r1, e1, int64(3))
		r2, e2 := c.LPush(ctx, "l", "z").Result()
		check(t, "LPUSH", r2, e2, int64(4))
		r3, e3 := c.LRange(ctx, "l", 0, -1).Result()
		check(t, "LRANGE", r3, e3, []string{"z", "a", "b", "c"})
		r4, e4 := c.LIndex(ctx, "l", -1).Result()
		check(t, "LINDEX", r4, e4, "c")
		r5, e5 := c.LInsertBefore(ctx, "l", "b", "x").Result()
		check(t, "LINSERT", r5, e5, int64(5))
		r6, e6 := c.LPos(ctx, "l", "b", redis.LPosArgs{}).Result()
		check(t, "LPOS", r6, e6, int64(3))
		r7, e7 := c.LPopCount(ctx, "l", 2).Result()
		check(t, "LPOP 2", r7, e7, []string{"z", "a"})
		r8, e8 := c.LMove(ctx, "l", "l2", "RIGHT", "LEFT").Result()
		check(t, "LMOVE", r8, e8, "c")
		r9, e9 := c.LTrim(ctx, "l", 0, 0).Result()
		check(t, "LTRIM", r9, e9, "OK")
		r10, e10 := c.LLen(ctx, "l").Result()
		check(t, "LLEN", r10, e10, int64(1))
		key, vals, err := c.LMPop(ctx, "left", 5, "none", "l2").Result()
		check(t, "LMPOP key", key, err, "l2")
		check(t, "LMPOP values", vals, err, []string{"c"})
		r11, e11 := c.BRPop(ctx, time.Second, "none", "l").Result()
		check(t, "BRPOP", r11, e11, []string{"l", "x"})
	})
}

func TestSetsWithGoRedis(t *testing.T) {
	forBothProtocols(t, func(t *testing.T, c *redis.Client) {
		ctx := ctxT(t)
		r1, e1 := c.SAdd(ctx, "s1", "a", "b", "c").Result()
		check(t, "SADD", r1, e1, int64(3))
		c.SAdd(ctx, "s2", "b", "c", "d")
		inter, err := c.SInter(ctx, "s1", "s2").Result()
		sort.Strings(inter)
		check(t, "SINTER", inter, err, []string{"b", "c"})
		union, err := c.SUnion(ctx, "s1", "s2").Result()
		sort.Strings(union)
		check(t, "SUNION", union, err, []string{"a", "b", "c", "d"})
		r2, e2 := c.SDiffStore(ctx, "d", "s1", "s2").Result()
		check(t, "SDIFFSTORE", r2, e2, int64(1))
		r3, e3 := c.SMIsMember(ctx, "s1", "a", "z").Result()
		check(t, "SMISMEMBER", r3, e3, []bool{true, false})
		r4, e4 := c.SInterCard(ctx, 1, "s1", "s2").Result()
		check(t, "SINTERCARD LIMIT 1", r4, e4, int64(1))
		c.SAdd(ctx, "ints", 3, 1, 2)
		r5, e5 := c.SMembers(ctx, "ints").Result()
		check(t, "SMEMBERS of an intset", r5, e5, []string{"1", "2", "3"})
		r6, e6 := c.ObjectEncoding(ctx, "ints").Result()
		check(t, "OBJECT ENCODING", r6, e6, "intset")
		popped, err := c.SPopN(ctx, "ints", 3).Result()
		sort.Strings(popped)
		check(t, "SPOP 3", popped, err, []string{"1", "2", "3"})
		r7, e7 := c.Exists(ctx, "ints").Result()
		check(t, "emptied set deleted", r7, e7, int64(0))
	})
}

func TestSortedSetsWithGoRedis(t *testing.T) {
	forBothProtocols(t, func(t *testing.T, c *redis.Client) {
		ctx := ctxT(t)
		r1, e1 := c.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}, redis.Z{Score: 3, Member: "c"}).Result()
		check(t, "ZADD", r1, e1, int64(3))
		r2, e2 := c.ZRangeWithScores(ctx, "z", 0, -1).Result()
		check(t, "ZRANGE WITHSCORES", r2, e2, []redis.Z{{Score: 1, Member: "a"}, {Score: 2, Member: "b"}, {Score: 3, Member: "c"}})
		r3, e3 := c.ZScore(ctx, "z", "b").Result()
		check(t, "ZSCORE", r3, e3, 2.0)
		r4, e4 := c.ZIncrBy(ctx, "z", 1.5, "a").Result()
		check(t, "ZINCRBY", r4, e4, 2.5)
		r5, e5 := c.ZRank(ctx, "z", "a").Result()
		check(t, "ZRANK", r5, e5, int64(1))
		r6, e6 := c.ZRangeByScore(ctx, "z", &redis.ZRangeBy{Min: "(2", Max: "+inf"}).Result()
		check(t, "ZRANGEBYSCORE", r6, e6, []string{"a", "c"})
		r7, e7 := c.ZPopMin(ctx, "z").Result()
		check(t, "ZPOPMIN", r7, e7, []redis.Z{{Score: 2, Member: "b"}})
		c.ZAdd(ctx, "y", redis.Z{Score: 10, Member: "a"})
		r8, e8 := c.ZUnionStore(ctx, "u", &redis.ZStore{Keys: []string{"z", "y"}, Aggregate: "MAX"}).Result()
		check(t, "ZUNIONSTORE", r8, e8, int64(2))
		r9, e9 := c.ZRangeWithScores(ctx, "u", 0, -1).Result()
		check(t, "ZUNIONSTORE result", r9, e9, []redis.Z{{Score: 3, Member: "c"}, {Score: 10, Member: "a"}})
		r10, e10 := c.BZPopMax(ctx, time.Second, "none", "u").Result()
		check(t, "BZPOPMAX", r10, e10, &redis.ZWithKey{Z: redis.Z{Score: 10, Member: "a"}, Key: "u"})
		r11, e11 := c.ZCard(ctx, "u").Result()
		check(t, "ZCARD", r11, e11, int64(1))
	})
}

func TestTransactionsWithGoRedis(t *testing.T) {
	forBothProtocols(t, func(t *testing.T, c *redis.Client) {
		ctx := ctxT(t)
		c.Set(ctx, "balance", "100", 0)
		// Optimistic locking: the go-redis Watch helper retries on conflict.
		err := c.Watch(ctx, func(tx *redis.Tx) error {
			n, err := tx.Get(ctx, "balance").Int()
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "balance", n-30, 0)
				p.Incr(ctx, "spent")
				return nil
			})
			return err
		}, "balance")
		if err != nil {
			t.Fatal(err)
		}
		r1, e1 := c.Get(ctx, "balance").Result()
		check(t, "after transaction", r1, e1, "70")
		cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Incr(ctx, "spent")
			p.Get(ctx, "spent")
			return nil
		})
		if err != nil || cmds[1].(*redis.StringCmd).Val() != "2" {
			t.Errorf("MULTI/EXEC pipeline = %v, %v", cmds, err)
		}
	})
}

func TestPipelineWithGoRedis(t *testing.T) {
	s := startServer(t)
	c := client(t, s)
	ctx := ctxT(t)
	p := c.Pipeline()
	for i := 0; i < 1000; i++ {
		p.Incr(ctx, "counter")
	}
	cmds, err := p.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := cmds[999].(*redis.IntCmd).Val(); got != 1000 {
		t.Errorf("last INCR of a 1000-command pipeline = %d", got)
	}
}
