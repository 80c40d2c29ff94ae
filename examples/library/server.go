// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

// Package library is the example LibraryService: its auth lives in
// proto/library/v1/library.proto, the code that enforces it in
// gen/library/v1/library_grpcauth.pb.go, and the handlers below only read
// who the caller is.
package library

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
)

// Server is an in-memory LibraryService.
type Server struct {
	libraryv1.UnimplementedLibraryServiceServer

	mu    sync.Mutex
	books map[string]*libraryv1.Book // name → book
}

// NewServer returns a server with a few books on the shelves
// "shelves/public" and "tenants/acme/shelves/main".
func NewServer() *Server {
	s := &Server{books: map[string]*libraryv1.Book{}}
	for _, b := range []*libraryv1.Book{
		{Name: "shelves/public/books/1", Title: "The Go Programming Language", Author: "Donovan, Kernighan"},
		{Name: "shelves/public/books/2", Title: "Designing Data-Intensive Applications", Author: "Kleppmann"},
		{Name: "tenants/acme/shelves/main/books/1", Title: "Site Reliability Engineering", Author: "Beyer et al."},
		{Name: "tenants/acme/shelves/main/books/2", Title: "The Practice of Programming", Author: "Kernighan, Pike"},
	} {
		s.books[b.Name] = b
	}
	return s
}

// Caller describes the authenticated caller for responses and logs: the
// principal, and the workload calling on its behalf if there is one.
func Caller(ctx context.Context) string {
	p, ok := runtime.PrincipalFrom(ctx)
	if !ok {
		return "anonymous"
	}
	who := fmt.Sprintf("%s (%s)", p.Subject, p.Kind)
	if w, ok := runtime.WorkloadFrom(ctx); ok {
		who += fmt.Sprintf(" through %s (%s)", w.Subject, w.Kind)
	}
	return who
}

// GetBook returns one book.
func (s *Server) GetBook(ctx context.Context, req *libraryv1.GetBookRequest) (*libraryv1.Book, error) {
	// Tell the caller who the handler saw; a real service would log it.
	// SetHeader fails only once headers are sent, which they are not yet.
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-served-for", Caller(ctx)))
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.books[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "book %q not found", req.GetName())
	}
	return b, nil
}

// DeleteBook removes a book. The rule's condition checked that the
// caller's tenant owns req.Shelf; the handler checks the book is on it.
func (s *Server) DeleteBook(ctx context.Context, req *libraryv1.DeleteBookRequest) (*libraryv1.DeleteBookResponse, error) {
	if !strings.HasPrefix(req.GetName(), req.GetShelf()+"/books/") {
		return nil, status.Errorf(codes.InvalidArgument, "book %q is not on shelf %q", req.GetName(), req.GetShelf())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.books[req.GetName()]; !ok {
		return nil, status.Errorf(codes.NotFound, "book %q not found", req.GetName())
	}
	delete(s.books, req.GetName())
	return &libraryv1.DeleteBookResponse{}, nil
}

// ExportShelf streams the books of a shelf, one per chunk.
func (s *Server) ExportShelf(req *libraryv1.ExportShelfRequest, stream grpc.ServerStreamingServer[libraryv1.ExportChunk]) error {
	for _, b := range s.shelf(req.GetShelf()) {
		if err := stream.Send(&libraryv1.ExportChunk{Books: []*libraryv1.Book{b}}); err != nil {
			return err
		}
	}
	return nil
}

// ImportBooks stores every book the client sends.
func (s *Server) ImportBooks(stream grpc.ClientStreamingServer[libraryv1.ImportBooksRequest, libraryv1.ImportBooksResponse]) error {
	var n int32
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&libraryv1.ImportBooksResponse{Imported: n})
		}
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.books[req.GetBook().GetName()] = req.GetBook()
		s.mu.Unlock()
		n++
	}
}

// SyncShelf echoes every change back, as another replica would.
func (s *Server) SyncShelf(stream grpc.BidiStreamingServer[libraryv1.SyncShelfRequest, libraryv1.SyncShelfResponse]) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&libraryv1.SyncShelfResponse{Book: req.GetBook()}); err != nil {
			return err
		}
	}
}

// ListPublicShelves lists the shelves anybody may browse.
func (s *Server) ListPublicShelves(ctx context.Context, _ *libraryv1.ListPublicShelvesRequest) (*libraryv1.ListPublicShelvesResponse, error) {
	return &libraryv1.ListPublicShelvesResponse{Shelves: []string{"shelves/public"}}, nil
}

// SearchCatalogue finds books by title: those on public shelves for
// anybody, and those of the caller's tenant too for a caller who sent a
// credential (optional authentication: a principal here is verified).
func (s *Server) SearchCatalogue(ctx context.Context, req *libraryv1.SearchCatalogueRequest) (*libraryv1.SearchCatalogueResponse, error) {
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-served-for", Caller(ctx)))
	shelves := []string{"shelves/public"}
	if p, ok := runtime.PrincipalFrom(ctx); ok {
		if tenant, _ := p.Claims["tenant"].(string); tenant != "" {
			shelves = append(shelves, "tenants/"+tenant+"/shelves/main")
		}
	}
	out := &libraryv1.SearchCatalogueResponse{}
	for _, shelf := range shelves {
		for _, b := range s.shelf(shelf) {
			if strings.Contains(strings.ToLower(b.GetTitle()), strings.ToLower(req.GetQuery())) {
				out.Books = append(out.Books, b)
			}
		}
	}
	return out, nil
}

// LendBook lends a book: the desk (the workload) on behalf of the member
// (the end user, whom the rule's condition checked against req.Member).
func (s *Server) LendBook(ctx context.Context, req *libraryv1.LendBookRequest) (*libraryv1.LendBookResponse, error) {
	member, ok := runtime.PrincipalFrom(ctx)
	desk, deskOK := runtime.WorkloadFrom(ctx)
	if !ok || !deskOK {
		return nil, status.Error(codes.Internal, "no desk and member") // the rule guarantees both
	}
	s.mu.Lock()
	_, found := s.books[req.GetName()]
	s.mu.Unlock()
	if !found {
		return nil, status.Errorf(codes.NotFound, "book %q not found", req.GetName())
	}
	return &libraryv1.LendBookResponse{LentBy: desk.Subject, LentTo: member.Subject}, nil
}

func (s *Server) shelf(name string) []*libraryv1.Book {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*libraryv1.Book
	for n, b := range s.books {
		if strings.HasPrefix(n, name+"/") {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
