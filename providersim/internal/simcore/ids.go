package simcore

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sync"
)

// IDs hands out identifiers from named, seeded streams. Each stream (tenants,
// users, tokens, messages, ...) has its own generator derived from the seed and
// the stream name, so the identifiers of one kind do not shift when another
// kind is drawn more or less often. The same seed gives the same identifiers.
type IDs struct {
	mu      sync.Mutex
	seed    int64
	streams map[string]*rand.ChaCha8
}

// NewIDs returns identifier streams for seed.
func NewIDs(seed int64) *IDs {
	return &IDs{seed: seed, streams: map[string]*rand.ChaCha8{}}
}

// Reset restarts every stream from the seed.
func (g *IDs) Reset() {
	g.mu.Lock()
	g.streams = map[string]*rand.ChaCha8{}
	g.mu.Unlock()
}

// Read fills b from the named stream.
func (g *IDs) Read(stream string, b []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.streams[stream]
	if !ok {
		var s [8]byte
		binary.BigEndian.PutUint64(s[:], uint64(g.seed))
		r = rand.NewChaCha8(sha256.Sum256(append(s[:], stream...)))
		g.streams[stream] = r
	}
	_, _ = r.Read(b) //nolint:errcheck // ChaCha8.Read always fills b and returns nil
}

// GUID returns a version-4 style GUID in lower case, as Microsoft prints them.
func (g *IDs) GUID(stream string) string {
	var b [16]byte
	g.Read(stream, b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Token returns n random bytes from the stream, base64url without padding.
func (g *IDs) Token(stream string, n int) string {
	b := make([]byte, n)
	g.Read(stream, b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hex returns n random bytes from the stream as upper-case hex.
func (g *IDs) Hex(stream string, n int) string {
	b := make([]byte, n)
	g.Read(stream, b)
	return fmt.Sprintf("%X", b)
}

// Bytes returns n random bytes from the stream.
func (g *IDs) Bytes(stream string, n int) []byte {
	b := make([]byte, n)
	g.Read(stream, b)
	return b
}

// LowerHex returns n random bytes from the stream as lower-case hex.
func (g *IDs) LowerHex(stream string, n int) string {
	b := make([]byte, n)
	g.Read(stream, b)
	return hex.EncodeToString(b)
}
