// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package apikey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// MaxFileSize is the largest key file [LoadFile] and [Store.Reload] read.
const MaxFileSize = 4 << 20

// DefaultWatchInterval is the polling interval [Store.Watch] uses when it
// is given none.
const DefaultWatchInterval = 10 * time.Second

// file is the key file's format.
type file struct {
	Clients *[]fileClient `json:"clients"`
}

type fileClient struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	KeySHA256 []string `json:"key_sha256"`
}

// LoadFile returns a store of the clients in the JSON key file at path (see
// the package documentation for its format). The store remembers path for
// [Store.Reload] and [Store.Watch]. Errors wrap [ErrInvalidOption] and name
// the path; those of the file system wrap its error too.
func LoadFile(path string) (*Store, error) {
	snap, fi, err := load(path)
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, loaded: fi}
	s.snap.Store(snap)
	return s, nil
}

// Reload reads the key file again and swaps in its clients. On any error
// the clients in use stay in use and the error (wrapping
// [ErrInvalidOption]) is returned: a file is used whole or not at all. A
// store built by [New] has no file to reload and always returns an error.
func (s *Store) Reload() error {
	_, err := s.reload()
	return err
}

// reload is Reload; ioFailure tells a file that could not be read from one
// whose content is wrong.
func (s *Store) reload() (ioFailure bool, err error) {
	if s.path == "" {
		return false, errorf("the store was not loaded from a file")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, fi, err := load(s.path)
	if err != nil {
		return fi == nil, err
	}
	s.snap.Store(snap)
	s.loaded = fi
	return false, nil
}

// Watch polls the key file's modification time, size and identity every
// interval ([DefaultWatchInterval] when interval <= 0) and reloads it when
// they change, until ctx ends; run it in its own goroutine. Errors — a file
// that cannot be read or whose content is refused — go to onError (if not
// nil), once each until something changes, and leave the clients in use in
// place. They never hold key material. A file that could not be read is
// tried again at every poll; one whose content was refused is read again
// only once it changes. On a store built by [New], Watch reports an error
// and returns at once.
func (s *Store) Watch(ctx context.Context, interval time.Duration, onError func(error)) {
	lastErr := ""
	report := func(err error) {
		if msg := err.Error(); msg != lastErr {
			lastErr = msg
			if onError != nil {
				onError(err)
			}
		}
	}
	if s.path == "" {
		report(errorf("Watch: the store was not loaded from a file"))
		return
	}
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	s.mu.Lock()
	last := s.loaded
	s.mu.Unlock()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fi, err := os.Stat(s.path)
		if err != nil {
			report(fileError(s.path, err))
			continue
		}
		if last != nil && unchanged(last, fi) {
			lastErr = ""
			continue
		}
		ioFailure, err := s.reload()
		if err != nil {
			if !ioFailure {
				last = fi // refused content: wait for the next change
			}
			report(err)
			continue
		}
		last, lastErr = fi, ""
	}
}

// unchanged reports whether b is the same file as a with the same
// modification time and size.
func unchanged(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// load reads and checks the key file at path. The FileInfo is of the file
// read, nil when it could not be read.
func load(path string) (*snapshot, os.FileInfo, error) {
	f, err := os.Open(path) //nolint:gosec // G304: path is the key file the operator configured
	if err != nil {
		return nil, nil, fileError(path, err)
	}
	defer f.Close() //nolint:errcheck // opened read-only: a close error loses nothing
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fileError(path, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, nil, fileError(path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fi, errorf("key file %q: larger than %d bytes", path, MaxFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc file
	if err := dec.Decode(&doc); err != nil {
		switch {
		case err == io.EOF:
			return nil, fi, errorf("key file %q: the file is empty", path)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fi, errorf("key file %q: invalid JSON: the file ends too early: %w", path, err)
		}
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			line, col := position(data, syn.Offset)
			return nil, fi, errorf("key file %q: invalid JSON at line %d, column %d: %w", path, line, col, err)
		}
		return nil, fi, errorf("key file %q: %w", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fi, errorf("key file %q: data after the JSON object", path)
	}
	if doc.Clients == nil {
		return nil, fi, errorf(`key file %q: no "clients" array`, path)
	}
	clients := make([]Client, len(*doc.Clients))
	for i, c := range *doc.Clients {
		clients[i] = Client(c)
	}
	snap, err := compile(clients, fmt.Sprintf("key file %q: ", path))
	if err != nil {
		return nil, fi, err
	}
	return snap, fi, nil
}

// fileError names path once, with the file system's error wrapped.
func fileError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return errorf("key file %q: %s: %w", path, pe.Op, pe.Err)
	}
	return errorf("key file %q: %w", path, err)
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}
