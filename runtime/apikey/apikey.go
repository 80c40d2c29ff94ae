// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// ErrInvalidOption is wrapped by every error [New], [LoadFile],
// [Store.Reload] and [Store.Replace] return, and by those [Store.Watch]
// reports.
var ErrInvalidOption = errors.New("apikey: invalid option")

// MaxKeySize is the length, in bytes, above which a presented key is
// refused as malformed before it is hashed.
const MaxKeySize = 1024

// MaxKeysPerClient is how many key digests a client may have: its current
// key and, during a rotation, the next one.
const MaxKeysPerClient = 2

// KeyPrefix starts every key [NewKey] returns, so that a leaked key is easy
// to recognise (and to scan for).
const KeyPrefix = "gak_"

// Client is one caller that authenticates with an API key.
type Client struct {
	// Name identifies the caller; it becomes Principal.Subject. It must be
	// non-empty, unique in the set, valid UTF-8 and free of control
	// characters.
	Name string
	// Scopes are the scopes the caller holds; each is non-empty and has no
	// whitespace. None at all is allowed.
	Scopes []string
	// KeySHA256 holds the lowercase hex SHA-256 digests ([Hash]) of the
	// caller's keys: one, or two while a key is being rotated.
	KeySHA256 []string
}

// Hash returns the lowercase hex SHA-256 digest of key: what
// [Client.KeySHA256] and the key file hold. It is for tooling that writes
// key files; the same value as `printf %s "$KEY" | sha256sum`.
func Hash(key string) string {
	// Hash from a copy on the stack ([]byte(key) would allocate for keys
	// longer than 32 bytes), cleared after use.
	var buf [MaxKeySize]byte
	n := copy(buf[:], key)
	sum := sha256.Sum256(buf[:n])
	clear(buf[:n])
	return hex.EncodeToString(sum[:])
}

// NewKey returns a fresh random key for an operator to hand to a caller:
// [KeyPrefix] followed by 32 bytes from crypto/rand in unpadded base64url
// (47 characters in all). Store only its [Hash].
func NewKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("apikey: reading random bytes: %w", err)
	}
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Store authenticates API keys against a set of clients. It implements
// [runtime.TokenAuthenticator] for the API_KEY credential kind and is safe
// for concurrent use. The set can be swapped at any time with
// [Store.Replace], [Store.Reload] or [Store.Watch]; every call sees either
// the old set or the new one, never a mix.
//
// A Store holds only the SHA-256 digests of keys, never a key. The zero
// Store has no clients; build one with [New] or [LoadFile].
type Store struct {
	path string // the key file, "" when built by New

	mu     sync.Mutex  // serialises writers of snap and loaded
	loaded os.FileInfo // the key file as last read, nil if never
	snap   atomic.Pointer[snapshot]
}

var _ runtime.TokenAuthenticator = (*Store)(nil)

// snapshot is one immutable set of clients.
type snapshot struct {
	digests []digest // every key digest of every client
	clients []client
}

type digest struct {
	sum    [sha256.Size]byte
	client int // index into snapshot.clients
}

type client struct {
	name   string
	scopes []string
}

var emptySnapshot = &snapshot{}

// New returns a store of clients. The clients are copied. An empty set is
// allowed: it refuses every key. Errors wrap [ErrInvalidOption] and name
// the offending client.
func New(clients []Client) (*Store, error) {
	snap, err := compile(clients, "")
	if err != nil {
		return nil, err
	}
	s := &Store{}
	s.snap.Store(snap)
	return s, nil
}

// Replace swaps in a new set of clients, for programmatic rotation. The set
// is checked as by [New]; on error the current set stays in use. On a store
// loaded from a file, the next [Store.Reload] (or change [Store.Watch] sees)
// replaces this set again.
func (s *Store) Replace(clients []Client) error {
	snap, err := compile(clients, "")
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.snap.Store(snap)
	s.mu.Unlock()
	return nil
}

// Authenticate returns the principal of the client key belongs to: kind
// API_KEY, the client's name as subject and a copy of its scopes. An empty
// key, or one longer than [MaxKeySize], is CREDENTIALS_MALFORMED; a key of
// no client is CREDENTIALS_INVALID. The key's digest is compared with every
// stored digest in constant time, whichever matches; errors never hold the
// key or its digest. It allocates only the principal and its scopes.
func (s *Store) Authenticate(_ context.Context, key string) (*runtime.Principal, error) {
	if key == "" {
		return nil, runtime.NewError(runtime.ReasonCredentialsMalformed, "the API key is empty")
	}
	if len(key) > MaxKeySize {
		return nil, runtime.NewError(runtime.ReasonCredentialsMalformed, "the API key is too long").
			WithDetail("API key of %d bytes; at most %d are accepted", len(key), MaxKeySize)
	}
	snap := s.snap.Load()
	if snap == nil {
		snap = emptySnapshot
	}
	// Hash from a copy on the stack ([]byte(key) would allocate for keys
	// longer than 32 bytes), cleared after use.
	var buf [MaxKeySize]byte
	n := copy(buf[:], key)
	sum := sha256.Sum256(buf[:n])
	clear(buf[:n])
	found, at := 0, 0
	for i := range snap.digests {
		eq := subtle.ConstantTimeCompare(sum[:], snap.digests[i].sum[:])
		at = subtle.ConstantTimeSelect(eq, i, at)
		found |= eq
	}
	if found == 0 {
		return nil, runtime.NewError(runtime.ReasonCredentialsInvalid, "the API key is not valid")
	}
	c := &snap.clients[snap.digests[at].client]
	p := &runtime.Principal{Kind: runtime.APIKey, Subject: c.name}
	if len(c.scopes) > 0 {
		p.Scopes = append([]string(nil), c.scopes...)
	}
	return p, nil
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// emptyKeyDigest is the digest of "", which no presented key can have.
var emptyKeyDigest = sha256.Sum256(nil)

// compile checks clients and builds their snapshot. where prefixes every
// error (the file, for LoadFile). No error holds a digest.
func compile(clients []Client, where string) (*snapshot, error) {
	snap := &snapshot{clients: make([]client, 0, len(clients))}
	names := make(map[string]int, len(clients))
	owner := make(map[[sha256.Size]byte]int) // digest → client index
	for i, c := range clients {
		if c.Name == "" {
			return nil, errorf("%sclients[%d]: empty name", where, i)
		}
		if !printable(c.Name) {
			return nil, errorf("%sclients[%d]: name %q is not valid UTF-8 or has a control character", where, i, c.Name)
		}
		if j, dup := names[c.Name]; dup {
			return nil, errorf("%sclient %q: the name is used twice (clients[%d] and clients[%d])", where, c.Name, j, i)
		}
		names[c.Name] = i
		for k, sc := range c.Scopes {
			if sc == "" {
				return nil, errorf("%sclient %q: scopes[%d] is empty", where, c.Name, k)
			}
			if !scopeChars(sc) {
				return nil, errorf("%sclient %q: scope %q has whitespace, a control character or invalid UTF-8", where, c.Name, sc)
			}
		}
		switch n := len(c.KeySHA256); {
		case n == 0:
			return nil, errorf("%sclient %q: no key digest", where, c.Name)
		case n > MaxKeysPerClient:
			return nil, errorf("%sclient %q: %d key digests; at most %d (the current key and the next, during rotation)", where, c.Name, n, MaxKeysPerClient)
		}
		for k, h := range c.KeySHA256 {
			sum, err := decodeDigest(h)
			if err != nil {
				return nil, errorf("%sclient %q: key_sha256[%d] %s", where, c.Name, k, err)
			}
			if sum == emptyKeyDigest {
				return nil, errorf("%sclient %q: key_sha256[%d] is the digest of the empty key", where, c.Name, k)
			}
			if j, dup := owner[sum]; dup {
				if j == i {
					return nil, errorf("%sclient %q: the same key digest is listed twice", where, c.Name)
				}
				return nil, errorf("%sclient %q: key_sha256[%d] is also a key digest of client %q", where, c.Name, k, clients[j].Name)
			}
			owner[sum] = i
			snap.digests = append(snap.digests, digest{sum: sum, client: len(snap.clients)})
		}
		snap.clients = append(snap.clients, client{name: c.Name, scopes: append([]string(nil), c.Scopes...)})
	}
	return snap, nil
}

// decodeDigest decodes 64 lowercase hex characters. Its error says what is
// wrong without repeating h.
func decodeDigest(h string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if len(h) != 2*sha256.Size {
		return sum, fmt.Errorf("is %d characters long; want %d lowercase hex characters (a SHA-256 digest)", len(h), 2*sha256.Size)
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return sum, errors.New("is not lowercase hex")
		}
	}
	if _, err := hex.Decode(sum[:], []byte(h)); err != nil {
		return sum, errors.New("is not lowercase hex")
	}
	return sum, nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func scopeChars(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}
