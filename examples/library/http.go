// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package library

import (
	"context"
	"errors"
	"io"
	"net/http"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	librarygw "github.com/grpcauth/protoc-gen-go-grpcauth/gen/gateway/library/v1"
	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1/libraryv1connect"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/connectauth"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/gatewayauth"
)

// validate checks a request against its protovalidate constraints.
func validate(m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil
	}
	if err := protovalidate.Validate(pm); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return nil
}

// validateUnary validates requests. It runs after the enforcer: generated
// registration decides before any interceptor, and the enforcer's own
// interceptor comes first in the chain.
func validateUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := validate(req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// validateStream validates every message a stream receives.
func validateStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &validatingStream{ss})
}

type validatingStream struct{ grpc.ServerStream }

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return validate(m)
}

// validatingServer validates the requests the gateway hands it: the
// gateway in process runs no interceptors, so validation is in the server
// that the typed wrapper calls once the call is decided.
type validatingServer struct{ *Server }

func (v validatingServer) GetBook(ctx context.Context, req *libraryv1.GetBookRequest) (*libraryv1.Book, error) {
	if err := validate(req); err != nil {
		return nil, err
	}
	return v.Server.GetBook(ctx, req)
}

func (v validatingServer) DeleteBook(ctx context.Context, req *libraryv1.DeleteBookRequest) (*libraryv1.DeleteBookResponse, error) {
	if err := validate(req); err != nil {
		return nil, err
	}
	return v.Server.DeleteBook(ctx, req)
}

// HTTPHandler serves LibraryService over HTTP: through grpc-gateway in
// process under /v1/ (GET /v1/{name=shelves/*/books/*},
// DELETE /v1/{name=tenants/*/shelves/*/books/*}, GET /v1/shelves:public),
// and to Connect, gRPC-Web and gRPC clients of connect-go at
// /library.v1.LibraryService/. Both enforce the rules of enf, and validate
// requests after the decision. Serve it over TLS with the MTLS
// authenticator's config for client certificates.
func HTTPHandler(impl *Server, enf *runtime.Enforcer) (http.Handler, *connectauth.Auth, error) {
	mux := http.NewServeMux()

	gw := gwruntime.NewServeMux(gatewayauth.ServeMuxOption())
	// The typed wrapper decides every call the gateway makes; the option
	// tells it the request's transport.
	if err := librarygw.RegisterLibraryServiceHandlerServer(context.Background(), gw,
		libraryv1.NewLibraryServiceServerWithAuth(validatingServer{impl}, enf)); err != nil {
		return nil, nil, err
	}
	mux.Handle("/v1/", gw)

	a := connectauth.New(enf)
	// The auth option first, then validation.
	mux.Handle(a.Handle(libraryv1connect.NewLibraryServiceHandler(&connectServer{impl},
		a.HandlerOption(), connect.WithInterceptors(validateConnect{}))))
	return mux, a, nil
}

// validateConnect validates what Connect handlers receive.
type validateConnect struct{}

func (validateConnect) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := validate(req.Any()); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New(status.Convert(err).Message()))
		}
		return next(ctx, req)
	}
}

func (validateConnect) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (validateConnect) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next // the example's streams carry no constraints
}

// connectServer is the Connect form of Server.
type connectServer struct{ s *Server }

var _ libraryv1connect.LibraryServiceHandler = (*connectServer)(nil)

func (c *connectServer) GetBook(ctx context.Context, req *connect.Request[libraryv1.GetBookRequest]) (*connect.Response[libraryv1.Book], error) {
	b, err := c.s.GetBook(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	resp := connect.NewResponse(b)
	resp.Header().Set("X-Served-For", Caller(ctx))
	return resp, nil
}

func (c *connectServer) DeleteBook(ctx context.Context, req *connect.Request[libraryv1.DeleteBookRequest]) (*connect.Response[libraryv1.DeleteBookResponse], error) {
	r, err := c.s.DeleteBook(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(r), nil
}

func (c *connectServer) ExportShelf(ctx context.Context, req *connect.Request[libraryv1.ExportShelfRequest], stream *connect.ServerStream[libraryv1.ExportChunk]) error {
	for _, b := range c.s.shelf(req.Msg.GetShelf()) {
		if err := stream.Send(&libraryv1.ExportChunk{Books: []*libraryv1.Book{b}}); err != nil {
			return err
		}
	}
	return nil
}

func (c *connectServer) ImportBooks(ctx context.Context, stream *connect.ClientStream[libraryv1.ImportBooksRequest]) (*connect.Response[libraryv1.ImportBooksResponse], error) {
	var n int32
	for stream.Receive() {
		c.s.put(stream.Msg().GetBook())
		n++
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	return connect.NewResponse(&libraryv1.ImportBooksResponse{Imported: n}), nil
}

func (c *connectServer) SyncShelf(ctx context.Context, stream *connect.BidiStream[libraryv1.SyncShelfRequest, libraryv1.SyncShelfResponse]) error {
	for {
		req, err := stream.Receive()
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

func (c *connectServer) ListPublicShelves(ctx context.Context, req *connect.Request[libraryv1.ListPublicShelvesRequest]) (*connect.Response[libraryv1.ListPublicShelvesResponse], error) {
	r, err := c.s.ListPublicShelves(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(r), nil
}

func (c *connectServer) SearchCatalogue(ctx context.Context, req *connect.Request[libraryv1.SearchCatalogueRequest]) (*connect.Response[libraryv1.SearchCatalogueResponse], error) {
	r, err := c.s.SearchCatalogue(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	resp := connect.NewResponse(r)
	resp.Header().Set("X-Served-For", Caller(ctx))
	return resp, nil
}

func (c *connectServer) LendBook(ctx context.Context, req *connect.Request[libraryv1.LendBookRequest]) (*connect.Response[libraryv1.LendBookResponse], error) {
	r, err := c.s.LendBook(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(r), nil
}
