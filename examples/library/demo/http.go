// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	libraryv1 "github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1"
	"github.com/grpcauth/protoc-gen-go-grpcauth/gen/library/v1/libraryv1connect"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/connectauth"
)

// gatewayCall is a REST call through grpc-gateway: method, path and
// headers (name, value pairs). Its answer's HTTP status and, for a denial,
// the google.rpc.Status the gateway writes as JSON come back as an error
// the demo prints like a gRPC one.
func gatewayCall(hc *http.Client, base, method, path string, headers ...string) func(context.Context, libraryv1.LibraryServiceClient) (string, error) {
	return func(ctx context.Context, _ libraryv1.LibraryServiceClient) (string, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
		if err != nil {
			return "", err
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Add(headers[i], headers[i+1])
		}
		resp, err := hc.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return "", err
		}
		if resp.StatusCode == http.StatusOK {
			var b struct{ Title string }
			_ = json.Unmarshal(body, &b)
			out := fmt.Sprintf("HTTP %d", resp.StatusCode)
			if b.Title != "" {
				out += fmt.Sprintf(" %q", b.Title)
			}
			if who := resp.Header.Get("Grpc-Metadata-X-Served-For"); who != "" {
				out += "; handler saw " + who
			}
			return out, nil
		}
		var st struct {
			Code    uint32
			Message string
			Details []struct {
				Type     string `json:"@type"`
				Reason   string
				Domain   string
				Metadata map[string]string
			}
		}
		if err := json.Unmarshal(body, &st); err != nil {
			return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		}
		msg := fmt.Sprintf("HTTP %d: %s", resp.StatusCode, st.Message)
		for _, d := range st.Details {
			if d.Domain == runtime.ErrorDomain {
				return "", &runtime.Error{Code: codes.Code(st.Code), Reason: runtime.Reason(d.Reason), Message: msg, Metadata: d.Metadata}
			}
		}
		return "", status.Error(codes.Code(st.Code), msg)
	}
}

// connectCall is a call of a connect-go client, its denial read with
// connectauth.FromError.
func connectCall(c libraryv1connect.LibraryServiceClient, call func(context.Context, libraryv1connect.LibraryServiceClient) (string, error)) func(context.Context, libraryv1.LibraryServiceClient) (string, error) {
	return func(ctx context.Context, _ libraryv1.LibraryServiceClient) (string, error) {
		out, err := call(ctx, c)
		if err == nil {
			return out, nil
		}
		if e, ok := connectauth.FromError(err); ok {
			return "", e
		}
		var ce *connect.Error
		if errors.As(err, &ce) {
			return "", status.Error(codes.Code(ce.Code()), ce.Message())
		}
		return "", err
	}
}

func connectGetBook(header ...string) func(context.Context, libraryv1connect.LibraryServiceClient) (string, error) {
	return func(ctx context.Context, c libraryv1connect.LibraryServiceClient) (string, error) {
		req := connect.NewRequest(&libraryv1.GetBookRequest{Name: "shelves/public/books/1"})
		for i := 0; i+1 < len(header); i += 2 {
			req.Header().Add(header[i], header[i+1])
		}
		resp, err := c.GetBook(ctx, req)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%q; handler saw %s", resp.Msg.GetTitle(), resp.Header().Get("X-Served-For")), nil
	}
}

func connectExport(ctx context.Context, c libraryv1connect.LibraryServiceClient) (string, error) {
	s, err := c.ExportShelf(ctx, connect.NewRequest(&libraryv1.ExportShelfRequest{Shelf: "shelves/public"}))
	if err != nil {
		return "", err
	}
	defer func() { _ = s.Close() }()
	n := 0
	for s.Receive() {
		n++
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return fmt.Sprintf("streamed %d chunk(s)", n), nil
}
