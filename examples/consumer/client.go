package shop

import (
	"crypto/tls"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"

	shopv1 "example.com/shop/gen/shop/v1"
)

// NewClient returns a ShopService client that attaches a token from ts to
// each call that needs one, and none to public methods.
func NewClient(target string, tlsConfig *tls.Config, ts oauth2.TokenSource) (shopv1.ShopServiceClient, *grpc.ClientConn, error) {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	if err != nil {
		return nil, nil, err
	}
	client := shopv1.NewShopServiceAuthClient(conn, &runtime.ClientCredentials{TokenSource: ts})
	return client, conn, nil
}
