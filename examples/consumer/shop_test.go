package shop_test

import (
	"context"
	"net"
	"testing"

	"golang.org/x/oauth2"
	"google.golang.org/grpc/codes"

	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime"
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/authtest"

	"example.com/shop"
	shopv1 "example.com/shop/gen/shop/v1"
)

// TestShop starts the server on loopback TCP with TLS, against a real
// issuer serving its JWKS over HTTPS, and calls it as a client would.
func TestShop(t *testing.T) {
	iss := authtest.NewIssuer(t, authtest.DefaultAudience("shop"))
	ca, err := authtest.NewCA("shop test CA")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := ca.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := shop.NewServer(shop.Config{Issuer: iss.URL(), JWKSURL: iss.JWKSURL(), HTTPClient: iss.HTTPClient(), TLS: serverTLS})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	clientTLS := ca.ClientTLS()
	clientTLS.ServerName = "localhost"
	token := iss.Mint(authtest.Subject("alice"), authtest.Scopes("shop.read"))
	client, conn, err := shop.NewClient(lis.Addr().String(), clientTLS, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx := context.Background()

	// Allowed: the token holds shop.read.
	got, err := client.GetItem(ctx, &shopv1.GetItemRequest{Name: "items/1"})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if got.GetName() != "items/1 for alice" {
		t.Errorf("GetItem = %q; want the handler to see the caller", got.GetName())
	}

	// Denied: DeleteItem needs shop.admin.
	_, err = client.DeleteItem(ctx, &shopv1.DeleteItemRequest{Name: "items/1"})
	denial, ok := runtime.FromError(err)
	if !ok || denial.Code != codes.PermissionDenied || denial.Reason != runtime.ReasonScopeInsufficient || denial.Metadata["missing_scopes"] != "shop.admin" {
		t.Fatalf("DeleteItem = %v; want PERMISSION_DENIED SCOPE_INSUFFICIENT missing shop.admin", err)
	}

	// Public: no token is needed, and none is sent.
	bare, bareConn, err := shop.NewClient(lis.Addr().String(), clientTLS, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bareConn.Close() })
	stream, err := bare.ListItems(ctx, &shopv1.ListItemsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if item, err := stream.Recv(); err != nil || item.GetName() != "items/1" {
		t.Fatalf("ListItems: %v, %v", item, err)
	}

	// Without a token, a method that needs one is refused before sending.
	_, err = bare.GetItem(ctx, &shopv1.GetItemRequest{Name: "items/1"})
	if denial, ok := runtime.FromError(err); !ok || denial.Reason != runtime.ReasonCredentialsMissing || !denial.Local {
		t.Fatalf("GetItem without a token = %v; want the client's own CREDENTIALS_MISSING", err)
	}
}
