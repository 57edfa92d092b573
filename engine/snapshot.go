package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"unsafe"
)

// # Snapshots
//
// WriteSnapshot and ReadSnapshot save and load a whole keyspace, for Raft
// snapshots: a replica that loads one must be indistinguishable from one
// that applied the log, for every operation to come. So a snapshot keeps
// not only the keys, values, expiry times, hash seed and encoding settings,
// but the internal layout wherever it decides a result or a later layout:
//
//   - every Dict (the keys and expiry times of each slot, hashtable hashes,
//     sets and sorted sets) is saved with its number of buckets and the
//     bucket of each entry, and restored with Reserve and PlaceAt, so that
//     Dict.Random, SCAN cursors and later growth behave the same;
//   - compact encodings are saved as their bytes (hash and sorted set
//     listpacks, intsets with their width), list chunks with their buffer
//     size and the offset of their entries in it, and the capacities of
//     these buffers, which decide when they are reallocated;
//   - string objects keep their encoding and, for those modified in place,
//     their buffer capacity; every key keeps its LRU clock.
//
// The only thing rebuilt rather than restored is the shape of a sorted
// set's B+tree (zbtBuild from the elements in order): it decides no reply
// (only MEMORY USAGE-style estimates would see it). Every Dict of a DB uses
// the DB's seed, so the seed is saved once.
//
// The format is a stream (WriteSnapshot never holds more than a buffer of
// it), cut in frames that each carry a CRC-32C (see frameWriter), so that
// corruption is caught before the bytes are interpreted. Its contents: a
// header, then each non-empty slot with its two Dicts. Integers are varints
// unless said otherwise.
//
//	"FLOTSNAP" version(=1) seed(uint64 LE) config(7 varints) dirty
//	nkeys nvolatile
//	per slot: slot+1, keys Dict, expires Dict
//	0
//
// A Dict is its bucket count, its length and its entries in bucket order,
// each with the gap from the previous bucket; an expiry entry names its key
// by the key's bucket in the keys Dict. See writeObject for the values.

const (
	snapMagic     = "FLOTSNAP"
	snapVersion   = 2
	snapFrameSize = 256 << 10 // frames WriteSnapshot writes
	snapMaxFrame  = 1 << 20   // the largest frame ReadSnapshot accepts
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrSnapshotCorrupt is returned (wrapped) by ReadSnapshot for a snapshot
// whose bytes are inconsistent or whose checksum does not match.
var ErrSnapshotCorrupt = errors.New("engine: corrupt snapshot")

func corrupt(what string) error { return fmt.Errorf("%w: %s", ErrSnapshotCorrupt, what) }

// WriteSnapshot writes the whole keyspace to w. Call it with at least the
// read lock held (it reads the LRU clocks atomically).
func (db *DB) WriteSnapshot(w io.Writer) error {
	fw := &frameWriter{w: w}
	bw := bufio.NewWriterSize(fw, snapFrameSize)
	sw := &snapWriter{bw: bw}
	sw.writeDB(db)
	if err := bw.Flush(); err != nil {
		return err
	}
	return fw.frame(nil) // the end
}

// frameWriter cuts the stream into frames: length (uint32 LE), CRC-32C of
// the data (uint32 LE), data. An empty frame ends the stream. Each frame is
// verified before any of its bytes is interpreted.
type frameWriter struct {
	w   io.Writer
	hdr [8]byte
}

func (f *frameWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), snapMaxFrame)
		if err := f.frame(p[:k]); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

func (f *frameWriter) frame(p []byte) error {
	binary.LittleEndian.PutUint32(f.hdr[:], uint32(len(p)))
	binary.LittleEndian.PutUint32(f.hdr[4:], crc32.Checksum(p, castagnoli))
	if _, err := f.w.Write(f.hdr[:]); err != nil {
		return err
	}
	_, err := f.w.Write(p)
	return err
}

// snapWriter encodes a keyspace. In layout mode (LayoutDigest) it leaves
// out what is not layout: the LRU clocks and the change counter.
type snapWriter struct {
	bw      *bufio.Writer
	layout  bool
	prevLRU uint32
}

func (w *snapWriter) uvarint(x uint64) {
	w.bw.Write(binary.AppendUvarint(w.bw.AvailableBuffer(), x))
}

func (w *snapWriter) varint(x int64) {
	w.bw.Write(binary.AppendVarint(w.bw.AvailableBuffer(), x))
}

func (w *snapWriter) byte(c byte) { w.bw.WriteByte(c) }

func (w *snapWriter) u64(x uint64) {
	w.bw.Write(binary.LittleEndian.AppendUint64(w.bw.AvailableBuffer(), x))
}

func (w *snapWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	w.bw.WriteString(s)
}

func (w *snapWriter) bytes(b []byte) {
	w.uvarint(uint64(len(b)))
	w.bw.Write(b)
}

// buffer writes a byte slice with its spare capacity.
func (w *snapWriter) buffer(b []byte, spare int) {
	w.uvarint(uint64(len(b)))
	w.uvarint(uint64(spare))
	w.bw.Write(b)
}

func (w *snapWriter) writeDB(db *DB) {
	w.bw.WriteString(snapMagic)
	w.uvarint(snapVersion)
	w.u64(db.seed)
	c := &db.cfg
	for _, v := range []int64{int64(c.HashMaxListpackEntries), int64(c.HashMaxListpackValue),
		int64(c.SetMaxIntsetEntries), int64(c.ZSetMaxListpackEntries), int64(c.ZSetMaxListpackValue),
		int64(c.ListMaxListpackSize), c.ProtoMaxBulkLen} {
		w.varint(v)
	}
	if w.layout {
		w.varint(0)
	} else {
		w.varint(db.dirty)
	}
	w.uvarint(uint64(db.nkeys))
	w.uvarint(uint64(db.nvolatile))
	for s := range db.slots {
		w.writeSlot(db, s)
	}
	w.uvarint(0)
}

// writeSlot writes one slot's section (nothing for an empty slot). A
// section stands alone (the LRU deltas restart), so that a copy-on-write
// snapshot can write the slots in any order and concatenate them.
func (w *snapWriter) writeSlot(db *DB, s int) {
	sk := db.slotAt(s)
	if sk == nil || sk.keys.Len() == 0 {
		return
	}
	w.prevLRU = 0
	w.uvarint(uint64(s) + 1)
	writeDict(w, &sk.keys, func(key string, o *object) {
		w.str(key)
		w.writeObject(o)
	})
	writeDict(w, &sk.expires, func(key string, at *int64) {
		w.uvarint(uint64(sk.keys.find(key, sk.keys.hashOf(key))))
		w.varint(*at)
	})
}

// writeDict writes a Dict's bucket count, length and entries in bucket
// order, each after the gap from the previous entry's bucket.
func writeDict[V any](w *snapWriter, d *Dict[V], entry func(key string, val *V)) {
	w.uvarint(uint64(d.Cap()))
	w.uvarint(uint64(d.Len()))
	prev := -1
	d.EachBucket(func(b int, key string, val *V) bool {
		w.uvarint(uint64(b - prev - 1))
		prev = b
		entry(key, val)
		return true
	})
}

// Collection encodings in a snapshot.
const (
	snapCompact = 0 // listpack, intset
	snapDict    = 1 // hashtable, skiplist
)

// writeObject writes a value (a buffer is its length, its spare capacity
// and its bytes):
//
//	type, enc, LRU clock (zigzag delta from the previous key's), then
//	string: buffer
//	list:   fill, length, live chunks, head, cap of the chunk array, then
//	        per chunk: buffer size, offset of the entries, their length
//	        and bytes, their count
//	set:    0 width, buffer | 1 Dict of members
//	hash:   0 pairs, buffer | 1 Dict of field length, value length,
//	        field, value
//	zset:   0 buffer | 1 Dict bucket count, length, then
//	        in order: member, score (float64 bits LE), its bucket
func (w *snapWriter) writeObject(o *object) {
	w.byte(byte(o.typ))
	w.byte(o.enc)
	if !w.layout {
		lru := o.accessed()
		w.varint(int64(int32(lru - w.prevLRU)))
		w.prevLRU = lru
	}
	switch o.typ {
	case TypeString:
		w.buffer(o.bytes(), int(o.c-o.n))
	case TypeList:
		v := collection[listValue](o.load())
		live := v.live()
		w.varint(int64(v.fill))
		w.uvarint(uint64(v.n))
		w.uvarint(uint64(len(live)))
		w.uvarint(uint64(v.head))
		w.uvarint(uint64(cap(v.nodes)))
		for _, ch := range live {
			w.uvarint(uint64(ch.size))
			w.uvarint(uint64(ch.lo))
			w.bytes(ch.buf()[ch.lo:ch.hi])
			w.uvarint(uint64(ch.count))
		}
	case TypeSet:
		v := collection[setValue](o.load())
		if v.dict == nil {
			w.byte(snapCompact)
			w.byte(v.is.width)
			w.buffer(v.is.data, cap(v.is.data)-len(v.is.data))
			return
		}
		w.byte(snapDict)
		writeDict(w, v.dict, func(m string, _ *struct{}) { w.str(m) })
	case TypeHash:
		v := collection[hashValue](o.load())
		if v.dict == nil {
			w.byte(snapCompact)
			w.uvarint(uint64(v.n))
			w.buffer(v.lp, cap(v.lp)-len(v.lp))
			return
		}
		w.byte(snapDict)
		writeDict(w, v.dict, func(f string, val *string) {
			w.uvarint(uint64(len(f)))
			w.uvarint(uint64(len(*val)))
			w.bw.WriteString(f)
			w.bw.WriteString(*val)
		})
	case TypeZSet:
		v := collection[zsetValue](o.load())
		if v.sl == nil {
			w.byte(snapCompact)
			w.buffer(v.lp, cap(v.lp)-len(v.lp))
			return
		}
		w.byte(snapDict)
		d := &v.sl.dict
		w.uvarint(uint64(d.Cap()))
		w.uvarint(uint64(d.Len()))
		v.sl.tree.each(func(e *zent) bool {
			w.str(e.member)
			w.u64(math.Float64bits(e.score))
			w.uvarint(uint64(d.find(e.member, d.hashOf(e.member))))
			return true
		})
	}
}

// ---- reading ----

// ReadSnapshot reads a keyspace written by WriteSnapshot. The DB it returns
// has no Notifier and zero statistics. A snapshot that does not check out
// (a frame whose checksum does not match, bad magic or version,
// inconsistent contents, truncation) gives an error wrapping
// ErrSnapshotCorrupt. It reads exactly the snapshot's bytes from r.
func ReadSnapshot(r io.Reader) (*DB, error) {
	sr := &snapReader{r: r, buf: make([]byte, snapMaxFrame)}
	db, err := sr.readDB()
	if err != nil {
		return nil, err
	}
	if err := sr.finish(); err != nil {
		return nil, err
	}
	return db, nil
}

// snapReader reads the frames of a snapshot into a buffer, verifying each.
type snapReader struct {
	r        io.Reader
	buf      []byte
	pos, end int
	done     bool // the end frame was read
	hdr      [8]byte
	prevLRU  uint32
}

// frame reads the next frame after the buffered bytes.
func (s *snapReader) frame() error {
	if s.done {
		return corrupt("truncated")
	}
	if _, err := io.ReadFull(s.r, s.hdr[:]); err != nil {
		return readErr(err)
	}
	n := int(binary.LittleEndian.Uint32(s.hdr[:]))
	if n > snapMaxFrame {
		return corrupt("frame size")
	}
	if n == 0 {
		s.done = true
		return nil
	}
	if s.pos > 0 {
		copy(s.buf, s.buf[s.pos:s.end])
		s.end -= s.pos
		s.pos = 0
	}
	if s.end+n > len(s.buf) {
		nb := make([]byte, s.end+n)
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	data := s.buf[s.end : s.end+n]
	if _, err := io.ReadFull(s.r, data); err != nil {
		return readErr(err)
	}
	if crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(s.hdr[4:]) {
		return corrupt("checksum mismatch")
	}
	s.end += n
	return nil
}

func readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return corrupt("truncated")
	}
	return err
}

// fill makes at least n bytes available.
func (s *snapReader) fill(n int) error {
	for s.end-s.pos < n {
		if err := s.frame(); err != nil {
			return err
		}
		if s.done && s.end-s.pos < n {
			return corrupt("truncated")
		}
	}
	return nil
}

// finish checks that the contents end where the frames do.
func (s *snapReader) finish() error {
	if s.pos != s.end {
		return corrupt("trailing data")
	}
	if !s.done {
		if err := s.frame(); err != nil {
			return err
		}
		if !s.done {
			return corrupt("trailing data")
		}
	}
	return nil
}

// read returns the next n bytes, valid until the next read.
func (s *snapReader) read(n int) ([]byte, error) {
	if err := s.fill(n); err != nil {
		return nil, err
	}
	b := s.buf[s.pos : s.pos+n]
	s.pos += n
	return b, nil
}

func (s *snapReader) readByte() (byte, error) {
	if s.pos == s.end {
		if err := s.fill(1); err != nil {
			return 0, err
		}
	}
	c := s.buf[s.pos]
	s.pos++
	return c, nil
}

func (s *snapReader) uvarint() (uint64, error) {
	if s.end-s.pos >= binary.MaxVarintLen64 {
		v, n := binary.Uvarint(s.buf[s.pos:s.end])
		if n <= 0 {
			return 0, corrupt("bad varint")
		}
		s.pos += n
		return v, nil
	}
	var v uint64
	for shift := uint(0); ; shift += 7 {
		c, err := s.readByte()
		if err != nil {
			return 0, err
		}
		if shift == 63 && c > 1 {
			return 0, corrupt("bad varint")
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, nil
		}
	}
}

func (s *snapReader) varint() (int64, error) {
	u, err := s.uvarint()
	return int64(u>>1) ^ -int64(u&1), err
}

// count reads a varint that must not exceed limit.
func (s *snapReader) count(limit uint64, what string) (int, error) {
	v, err := s.uvarint()
	if err != nil {
		return 0, err
	}
	if v > limit {
		return 0, corrupt(what + " out of range")
	}
	return int(v), nil
}

func (s *snapReader) u64() (uint64, error) {
	b, err := s.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// readInto fills dst from the stream.
func (s *snapReader) readInto(dst []byte) error {
	for {
		n := copy(dst, s.buf[s.pos:s.end])
		s.pos += n
		dst = dst[n:]
		if len(dst) == 0 {
			return nil
		}
		if err := s.fill(1); err != nil {
			return err
		}
	}
}

// maxSnapLen bounds the length of one string or buffer.
const maxSnapLen = math.MaxUint32

// readBuffer reads n bytes into a new buffer of the given capacity. A large
// length is not trusted before the bytes arrive: the buffer grows as they
// do.
func (s *snapReader) readBuffer(n, capacity int) ([]byte, error) {
	if n <= snapMaxFrame || n <= s.end-s.pos {
		b := make([]byte, n, capacity)
		return b, s.readInto(b)
	}
	b := make([]byte, 0, snapMaxFrame)
	for len(b) < n {
		k := min(n-len(b), max(len(b), snapMaxFrame))
		b = append(b, make([]byte, k)...)
		if err := s.readInto(b[len(b)-k:]); err != nil {
			return nil, err
		}
	}
	if cap(b) != capacity {
		nb := make([]byte, n, capacity)
		copy(nb, b)
		b = nb
	}
	return b, nil
}

// str reads a length-prefixed string.
func (s *snapReader) str() (string, error) {
	n, err := s.count(maxSnapLen, "string length")
	if err != nil {
		return "", err
	}
	if n <= s.end-s.pos {
		v := string(s.buf[s.pos : s.pos+n])
		s.pos += n
		return v, nil
	}
	b, err := s.readBuffer(n, n)
	if err != nil {
		return "", err
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// bufferHeader reads the length and spare capacity of a buffer. The spare
// capacity of the engine's buffers stays below their length plus a few MB
// (they grow at most twofold, or by 1 MB for large strings).
func (s *snapReader) bufferHeader() (n, spare int, err error) {
	if n, err = s.count(maxSnapLen, "buffer length"); err != nil {
		return
	}
	spare, err = s.count(uint64(n)+4<<20, "spare capacity")
	return
}

// buffer reads a buffer.
func (s *snapReader) buffer() ([]byte, error) {
	n, spare, err := s.bufferHeader()
	if err != nil {
		return nil, err
	}
	return s.readBuffer(n, n+spare)
}

func (s *snapReader) readDB() (*DB, error) {
	magic, err := s.read(len(snapMagic))
	if err != nil {
		return nil, err
	}
	if string(magic) != snapMagic {
		return nil, corrupt("not a snapshot")
	}
	version, err := s.uvarint()
	if err != nil {
		return nil, err
	}
	if version != snapVersion {
		return nil, corrupt(fmt.Sprintf("unknown version %d", version))
	}
	seed, err := s.u64()
	if err != nil {
		return nil, err
	}
	db := New(seed)
	var cfg [7]int64
	for i := range cfg {
		if cfg[i], err = s.varint(); err != nil {
			return nil, err
		}
		if i < 6 && (cfg[i] > math.MaxInt32 || cfg[i] < math.MinInt32) {
			return nil, corrupt("config out of range")
		}
	}
	db.cfg = Config{
		HashMaxListpackEntries: int(cfg[0]), HashMaxListpackValue: int(cfg[1]),
		SetMaxIntsetEntries: int(cfg[2]), ZSetMaxListpackEntries: int(cfg[3]),
		ZSetMaxListpackValue: int(cfg[4]), ListMaxListpackSize: int(cfg[5]),
		ProtoMaxBulkLen: cfg[6],
	}
	if db.dirty, err = s.varint(); err != nil {
		return nil, err
	}
	nkeys, err := s.count(math.MaxInt32*NumSlots, "key count")
	if err != nil {
		return nil, err
	}
	nvolatile, err := s.count(uint64(nkeys), "volatile key count")
	if err != nil {
		return nil, err
	}
	lastSlot := -1
	for {
		v, err := s.uvarint()
		if err != nil {
			return nil, err
		}
		if v == 0 {
			break
		}
		slot := int(v - 1)
		if v > NumSlots || slot <= lastSlot {
			return nil, corrupt("slot out of order")
		}
		lastSlot = slot
		s.prevLRU = 0
		sk := &db.slots[slot]
		sk.keys.seed, sk.expires.seed = seed, seed
		if err := s.readKeys(db, sk, Slot(slot), nkeys-db.nkeys); err != nil {
			return nil, err
		}
		if err := s.readExpires(db, sk); err != nil {
			return nil, err
		}
	}
	if db.nkeys != nkeys || db.nvolatile != nvolatile {
		return nil, corrupt("key counts do not match")
	}
	return db, nil
}

// readDictHeader reads a Dict's bucket count and length and reserves the
// buckets. limit bounds the length.
func readDictHeader[V any](s *snapReader, d *Dict[V], limit int) (int, error) {
	capacity, err := s.count(1<<40, "dict size")
	if err != nil {
		return 0, err
	}
	n, err := s.count(uint64(limit), "dict length")
	if err != nil {
		return 0, err
	}
	// The Dict grows before passing 7/8 full, and is never empty here.
	if n == 0 || capacity < dictMinCap || capacity&(capacity-1) != 0 || n*8 > capacity*7 {
		return 0, corrupt("dict shape")
	}
	d.Reserve(capacity)
	return n, nil
}

// nextBucket reads the gap to the next entry's bucket and checks that it is
// free.
func nextBucket[V any](s *snapReader, d *Dict[V], prev int) (int, error) {
	gap, err := s.count(uint64(len(d.ents)), "bucket")
	if err != nil {
		return 0, err
	}
	b := prev + 1 + gap
	if b >= len(d.ents) || d.ents[b].hash != 0 {
		return 0, corrupt("bucket")
	}
	return b, nil
}

// checkLayout verifies that every entry of a Dict restored by PlaceAt is
// found where it was placed: no hole in its probe sequence, no duplicate
// before it. Then lookups, inserts and deletes work on it as on the original.
func (d *Dict[V]) checkLayout() bool {
	for i := range d.ents {
		if h := d.ents[i].hash; h != 0 && d.find(d.ents[i].key, h) != i {
			return false
		}
	}
	return true
}

func (s *snapReader) readKeys(db *DB, sk *slotKeys, slot Slot, limit int) error {
	n, err := readDictHeader(s, &sk.keys, limit)
	if err != nil {
		return err
	}
	b := -1
	for i := 0; i < n; i++ {
		if b, err = nextBucket(s, &sk.keys, b); err != nil {
			return err
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		if KeySlotString(key) != slot {
			return corrupt("key in the wrong slot")
		}
		o, err := s.readObject(db)
		if err != nil {
			return err
		}
		sk.keys.PlaceAt(b, key, o)
	}
	if !sk.keys.checkLayout() {
		return corrupt("keys layout")
	}
	db.nkeys += n
	return nil
}

func (s *snapReader) readExpires(db *DB, sk *slotKeys) error {
	capacity, err := s.count(1<<40, "dict size")
	if err != nil {
		return err
	}
	n, err := s.count(uint64(sk.keys.Len()), "dict length")
	if err != nil {
		return err
	}
	if n == 0 {
		if capacity != 0 {
			return corrupt("expires shape")
		}
		return nil
	}
	if capacity < dictMinCap || capacity&(capacity-1) != 0 || n*8 > capacity*7 {
		return corrupt("expires shape")
	}
	sk.expires.Reserve(capacity)
	b := -1
	for i := 0; i < n; i++ {
		if b, err = nextBucket(s, &sk.expires, b); err != nil {
			return err
		}
		kb, err := s.count(uint64(len(sk.keys.ents)-1), "key bucket")
		if err != nil {
			return err
		}
		at, err := s.varint()
		if err != nil {
			return err
		}
		if sk.keys.ents[kb].hash == 0 || sk.keys.ents[kb].val.flags&objVolatile != 0 {
			return corrupt("expiry of no key")
		}
		sk.keys.ents[kb].val.flags |= objVolatile
		sk.expires.PlaceAt(b, sk.keys.ents[kb].key, at)
	}
	if !sk.expires.checkLayout() {
		return corrupt("expires layout")
	}
	db.nvolatile += n
	return nil
}

func (s *snapReader) readObject(db *DB) (object, error) {
	hdr, err := s.read(2)
	if err != nil {
		return object{}, err
	}
	o := object{typ: Type(hdr[0]), enc: hdr[1]}
	d, err := s.varint()
	if err != nil {
		return object{}, err
	}
	if d != int64(int32(d)) {
		return object{}, corrupt("lru")
	}
	o.lru = s.prevLRU + uint32(int32(d))
	s.prevLRU = o.lru
	switch o.typ {
	case TypeString:
		if o.enc != strAuto && o.enc != strRaw && o.enc != strEmbstr && o.enc != strInt {
			return object{}, corrupt("string encoding")
		}
		n, spare, err := s.bufferHeader()
		if err != nil {
			return object{}, err
		}
		if o.enc == strAuto && spare == 0 && n > 0 && n <= 4 {
			if err := s.fill(n); err != nil {
				return object{}, err
			}
			if v, ok := parseInt(s.buf[s.pos : s.pos+n]); ok && v >= 0 {
				// A shared integer, as stringValue makes it.
				s.pos += n
				so := newStringObjectFromString(sharedInt(v))
				so.lru = o.lru
				return so, nil
			}
		}
		b, err := s.readBuffer(n, n+spare)
		if err != nil {
			return object{}, err
		}
		o.n, o.c = uint32(len(b)), uint32(cap(b))
		if cap(b) > 0 {
			o.ptr = unsafe.Pointer(unsafe.SliceData(b))
		}
		return o, nil
	case TypeList:
		v, err := s.readList()
		if err != nil {
			return object{}, err
		}
		o.ptr = unsafe.Pointer(v)
	case TypeSet:
		v, err := s.readSet(db)
		if err != nil {
			return object{}, err
		}
		o.ptr = unsafe.Pointer(v)
	case TypeHash:
		v, err := s.readHash(db)
		if err != nil {
			return object{}, err
		}
		o.ptr = unsafe.Pointer(v)
	case TypeZSet:
		v, err := s.readZset(db)
		if err != nil {
			return object{}, err
		}
		o.ptr = unsafe.Pointer(v)
	default:
		return object{}, corrupt("type")
	}
	if o.enc != 0 {
		return object{}, corrupt("encoding")
	}
	return o, nil
}

func (s *snapReader) readList() (*listValue, error) {
	fill, err := s.varint()
	if err != nil {
		return nil, err
	}
	if fill != int64(int32(fill)) {
		return nil, corrupt("list fill")
	}
	n, err := s.count(math.MaxInt64, "list length")
	if err != nil {
		return nil, err
	}
	live, err := s.count(uint64(n), "list chunks")
	if err != nil {
		return nil, err
	}
	head, err := s.count(math.MaxInt32, "list head")
	if err != nil {
		return nil, err
	}
	capacity, err := s.count(math.MaxInt32, "list chunk array")
	if err != nil {
		return nil, err
	}
	if live == 0 || head+live > capacity || capacity > 1<<26 {
		return nil, corrupt("list shape")
	}
	v := &listValue{fill: int32(fill), head: int32(head), n: n}
	v.nodes = make([]*listChunk, head+live, capacity)
	total := 0
	for i := 0; i < live; i++ {
		size, err := s.count(maxSnapLen, "chunk size")
		if err != nil {
			return nil, err
		}
		lo, err := s.count(uint64(size), "chunk offset")
		if err != nil {
			return nil, err
		}
		used, err := s.count(uint64(size-lo), "chunk length")
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size)
		if err := s.readInto(buf[lo : lo+used]); err != nil {
			return nil, err
		}
		count, err := s.count(listMaxChunkCount, "chunk count")
		if err != nil {
			return nil, err
		}
		ch := &listChunk{p: unsafe.Pointer(unsafe.SliceData(buf)), size: uint32(size),
			lo: uint32(lo), hi: uint32(lo + used), count: uint32(count)}
		if count == 0 || !checkListChunk(buf[lo:lo+used], count) {
			return nil, corrupt("list chunk")
		}
		v.nodes[head+i] = ch
		total += count
	}
	if total != n {
		return nil, corrupt("list length")
	}
	return v, nil
}

// checkListChunk verifies that b holds exactly count well-formed list
// entries (see putListEntry), so that walking them either way stays inside.
func checkListChunk(b []byte, count int) bool {
	var tmp [binary.MaxVarintLen64]byte
	off := 0
	for ; count > 0; count-- {
		l, k := binary.Uvarint(b[off:])
		if k <= 0 || l > uint64(len(b)-off-k) {
			return false
		}
		body := k + int(l)
		back := listBacklen(uint64(body), tmp[:])
		if off+body+len(back) > len(b) || string(b[off+body:off+body+len(back)]) != string(back) {
			return false
		}
		off += body + len(back)
	}
	return off == len(b)
}

// listBacklen returns the backlen bytes putListEntry writes after an entry
// body of the given size.
func listBacklen(body uint64, dst []byte) []byte {
	k := uvarintLen(body)
	dst = dst[:k]
	for i := k - 1; i >= 0; i-- {
		c := byte(body & 0x7f)
		body >>= 7
		if i > 0 {
			c |= 0x80
		}
		dst[i] = c
	}
	return dst
}

func (s *snapReader) readSet(db *DB) (*setValue, error) {
	kind, err := s.readByte()
	if err != nil {
		return nil, err
	}
	switch kind {
	case snapCompact:
		width, err := s.readByte()
		if err != nil {
			return nil, err
		}
		data, err := s.buffer()
		if err != nil {
			return nil, err
		}
		// Width 0 is a set that never needed more than 2 bytes.
		is := intset{data: data, width: width}
		if (width != 0 && width != 2 && width != 4 && width != 8) || len(data) == 0 || len(data)%is.w() != 0 {
			return nil, corrupt("intset")
		}
		return &setValue{is: is}, nil
	case snapDict:
		d := NewDict[struct{}](db.seed)
		n, err := readDictHeader(s, d, math.MaxInt64)
		if err != nil {
			return nil, err
		}
		b := -1
		for i := 0; i < n; i++ {
			if b, err = nextBucket(s, d, b); err != nil {
				return nil, err
			}
			m, err := s.str()
			if err != nil {
				return nil, err
			}
			d.PlaceAt(b, m, struct{}{})
		}
		if !d.checkLayout() {
			return nil, corrupt("set layout")
		}
		return &setValue{dict: d}, nil
	}
	return nil, corrupt("set encoding")
}

func (s *snapReader) readHash(db *DB) (*hashValue, error) {
	kind, err := s.readByte()
	if err != nil {
		return nil, err
	}
	switch kind {
	case snapCompact:
		n, err := s.count(math.MaxInt32, "hash length")
		if err != nil {
			return nil, err
		}
		lp, err := s.buffer()
		if err != nil {
			return nil, err
		}
		if n == 0 || !checkHashListpack(lp, n) {
			return nil, corrupt("hash listpack")
		}
		return &hashValue{lp: lp, n: n}, nil
	case snapDict:
		d := NewDict[string](db.seed)
		n, err := readDictHeader(s, d, math.MaxInt64)
		if err != nil {
			return nil, err
		}
		b := -1
		for i := 0; i < n; i++ {
			if b, err = nextBucket(s, d, b); err != nil {
				return nil, err
			}
			// A field and its value share one allocation (hashDictSet).
			fl, err := s.count(maxSnapLen, "field length")
			if err != nil {
				return nil, err
			}
			vl, err := s.count(maxSnapLen, "value length")
			if err != nil {
				return nil, err
			}
			pair, err := s.readBuffer(fl+vl, fl+vl)
			if err != nil {
				return nil, err
			}
			ps := unsafeString(pair)
			d.PlaceAt(b, ps[:fl], ps[fl:])
		}
		if !d.checkLayout() {
			return nil, corrupt("hash layout")
		}
		return &hashValue{dict: d}, nil
	}
	return nil, corrupt("hash encoding")
}

// checkHashListpack verifies that lp holds exactly n well-formed pairs (see
// hlpNext).
func checkHashListpack(lp []byte, n int) bool {
	pos := 0
	for i := 0; i < 2*n; i++ {
		l, k := binary.Uvarint(lp[pos:])
		if k <= 0 || l > uint64(len(lp)-pos-k) {
			return false
		}
		pos += k + int(l)
	}
	return pos == len(lp)
}

func (s *snapReader) readZset(db *DB) (*zsetValue, error) {
	kind, err := s.readByte()
	if err != nil {
		return nil, err
	}
	switch kind {
	case snapCompact:
		lp, err := s.buffer()
		if err != nil {
			return nil, err
		}
		if !checkZsetListpack(lp) {
			return nil, corrupt("zset listpack")
		}
		return &zsetValue{lp: lp}, nil
	case snapDict:
		sl := &zsetSkiplist{}
		sl.dict.seed = db.seed
		n, err := readDictHeader(s, &sl.dict, math.MaxInt64)
		if err != nil {
			return nil, err
		}
		ents := make([]zent, 0, min(n, 1<<16))
		for i := 0; i < n; i++ {
			m, err := s.str()
			if err != nil {
				return nil, err
			}
			bits, err := s.u64()
			if err != nil {
				return nil, err
			}
			score := math.Float64frombits(bits)
			b, err := s.count(uint64(len(sl.dict.ents)-1), "bucket")
			if err != nil {
				return nil, err
			}
			if math.IsNaN(score) || sl.dict.ents[b].hash != 0 {
				return nil, corrupt("zset element")
			}
			if i > 0 && !zless(ents[i-1].score, ents[i-1].member, score, m) {
				return nil, corrupt("zset order")
			}
			sl.dict.PlaceAt(b, m, score)
			sl.memBytes += len(m)
			ents = append(ents, zent{member: m, score: score})
		}
		if !sl.dict.checkLayout() {
			return nil, corrupt("zset layout")
		}
		sl.tree = zbtBuild(ents)
		return &zsetValue{sl: sl}, nil
	}
	return nil, corrupt("zset encoding")
}

// checkZsetListpack verifies a sorted set listpack (see lpEntry): its count
// header, and entries that stay inside it in both directions.
func checkZsetListpack(lp []byte) bool {
	if len(lp) < lpHdr {
		return false
	}
	count := int(binary.LittleEndian.Uint32(lp))
	off, n := lpHdr, 0
	for off < len(lp) {
		l, k := binary.Uvarint(lp[off:])
		if k <= 0 || l > uint64(len(lp)-off-k) {
			return false
		}
		p := off + k + int(l)
		if p >= len(lp) {
			return false
		}
		var sl int
		switch c := lp[p]; {
		case c == lpScoreF64:
			sl = 9
		case c == lpScoreF32:
			sl = 5
		default:
			_, sl = binary.Uvarint(lp[p:])
			if sl <= 0 {
				return false
			}
		}
		if p+sl > len(lp) {
			return false
		}
		if s, _ := lpScore(lp[p:]); math.IsNaN(s) {
			return false
		}
		// The trailer: the body size as a uvarint, bytes reversed.
		t := k + int(l) + sl
		var tmp [binary.MaxVarintLen64]byte
		tn := binary.PutUvarint(tmp[:], uint64(t))
		end := p + sl + tn
		if end > len(lp) {
			return false
		}
		for i := 0; i < tn; i++ {
			if lp[end-1-i] != tmp[i] {
				return false
			}
		}
		off = end
		n++
	}
	return n == count && count > 0
}
