// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package apikey authenticates API_KEY credentials: the raw key a caller
// sends in the x-api-key metadata entry, looked up among a set of clients
// that is known by the SHA-256 digests of their keys only.
//
//	store, err := apikey.LoadFile("/etc/grpcauth/api-keys.json")
//	go store.Watch(ctx, 30*time.Second, func(err error) { slog.Error("api keys", "err", err) })
//
// A [*Store] is a [runtime.TokenAuthenticator]: the enforcer reads the key
// and calls [Store.Authenticate], which returns a principal of kind API_KEY
// whose subject is the client's name and whose scopes are the client's
// scopes. Whether the client may call a method is then decided by the
// method's rule, as for every other kind of credential.
//
// # What it accepts
//
// An empty key, or one longer than [MaxKeySize], is refused as
// CREDENTIALS_MALFORMED. Any other key is hashed with SHA-256 and the digest
// is compared with every configured digest, each comparison in constant time
// over 32 bytes and without stopping at a match, so the time taken does not
// tell which client (if any) matched. A key of no client — and every key,
// when no clients are configured — is CREDENTIALS_INVALID. Neither the key
// nor its digest appears in any error, detail or log line.
//
// The store holds digests, never keys: a copy of the file or of the
// process's memory does not give a usable key. Keys should be long and
// random, as [NewKey] makes them (256 bits), since a digest of a short or
// guessable key can be reversed by trying candidates.
//
// # File format
//
// [LoadFile] reads a JSON object with one field, "clients", an array of
// clients:
//
//	{
//	  "clients": [
//	    {
//	      "name": "exporter",
//	      "scopes": ["library.read", "export"],
//	      "key_sha256": ["0af31d7fe0138998056f7c8cfecf7736c1564050ea12f963ca6e56b1f0a8ca37"]
//	    },
//	    {
//	      "name": "nightly-backup",
//	      "scopes": ["library.read"],
//	      "key_sha256": [
//	        "1c5ea9dddcd34add25ad78d4bfe3e277c6f0cbc6dde4eca21c85731285329ee4",
//	        "4da915e95dd041c2ed4d3b0f5d0b403c31cc7aa7d616fe950a6133cca273abf1"
//	      ]
//	    }
//	  ]
//	}
//
// The fields of a client:
//
//   - name: required, unique, free of control characters; it becomes the
//     principal's subject.
//   - scopes: optional; each scope is non-empty and has no whitespace.
//   - key_sha256: one or two lowercase hex SHA-256 digests of the client's
//     keys, as [Hash] or `printf %s "$KEY" | sha256sum` give them. Two only
//     while a key is rotated. A digest may not belong to two clients, and
//     the digest of the empty key is refused.
//
// Unknown fields, a missing "clients" array, anything after the object and
// files over [MaxFileSize] are refused. An empty "clients" array is
// allowed and refuses every key. Every error wraps [ErrInvalidOption] and
// names the file and the client at fault.
//
// # Reloading
//
// [Store.Reload] reads the file again; [Store.Watch] does so whenever the
// file's modification time, size or identity changes (so replacing it by a
// rename, as Kubernetes does with mounted secrets, is seen too);
// [Store.Replace] installs a set built in code. Each builds a whole new set
// and swaps it in at once: a call sees the old set or the new one, never a
// mix, and a file or set that is refused leaves the one in use in place.
// Write key files atomically (to a temporary file, then rename it over the
// old one) so that Watch never reads one half-written; if it does, it
// reports the error and picks up the complete file at its next poll.
//
// # Rotating a key
//
// To replace a client's key without refusing any of its calls:
//
//  1. Make the new key with [NewKey] (or any source of 32 random bytes) and
//     add its digest to the client's key_sha256, after the current one.
//     Reload (or let Watch see the change). Both keys now work.
//  2. Give the new key to the client and wait until it uses only the new
//     key (its calls keep the same subject, so watch the deployment, not
//     the audit log).
//  3. Remove the old digest from key_sha256 and reload. The old key is now
//     refused with CREDENTIALS_INVALID.
//
// A client can have at most two keys ([MaxKeysPerClient]); a third is a
// configuration error that names the client, so a rotation cannot leave
// forgotten keys behind. To revoke a leaked key at once, remove its digest
// (or the whole client) and reload.
package apikey
