// Package shop is a service in a repository of its own that declares its
// auth in shop.proto and enforces it with protoc-gen-go-grpcauth.
package shop

import (
	"context"
	"crypto/tls"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"

	shopv1 "example.com/shop/gen/shop/v1"
)

// Config is where the server's trust comes from: server configuration,
// never the .proto.
type Config struct {
	Issuer, JWKSURL string
	// HTTPClient fetches the JWKS; nil for http.DefaultClient.
	HTTPClient *http.Client
	TLS        *tls.Config
}

// NewServer returns a gRPC server with ShopService registered behind its
// auth rules.
func NewServer(cfg Config) (*grpc.Server, error) {
	jwtOpts := []jwtauth.Option{
		jwtauth.Issuer(cfg.Issuer, jwtauth.Audience("shop"), jwtauth.JWKSURL(cfg.JWKSURL)),
	}
	if cfg.HTTPClient != nil {
		jwtOpts = append(jwtOpts, jwtauth.HTTPClient(cfg.HTTPClient))
	}
	jwt, err := jwtauth.New(jwtOpts...)
	if err != nil {
		return nil, err
	}
	enf, err := runtime.NewEnforcer(runtime.WithJWT(jwt))
	if err != nil {
		return nil, err
	}
	s := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg.TLS)))
	shopv1.RegisterShopServiceServerWithAuth(s, &shopServer{}, enf)
	return s, nil
}

type shopServer struct {
	shopv1.UnimplementedShopServiceServer
}

func (*shopServer) GetItem(ctx context.Context, req *shopv1.GetItemRequest) (*shopv1.GetItemResponse, error) {
	p, _ := runtime.PrincipalFrom(ctx) // the verified caller
	return &shopv1.GetItemResponse{Name: req.GetName() + " for " + p.Subject}, nil
}

func (*shopServer) DeleteItem(context.Context, *shopv1.DeleteItemRequest) (*shopv1.DeleteItemResponse, error) {
	return &shopv1.DeleteItemResponse{}, nil
}

func (*shopServer) ListItems(_ *shopv1.ListItemsRequest, stream grpc.ServerStreamingServer[shopv1.ListItemsResponse]) error {
	return stream.Send(&shopv1.ListItemsResponse{Name: "items/1"})
}
