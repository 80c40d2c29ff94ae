// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth_test

import (
	"github.com/grpcauth/protoc-gen-go-grpcauth/runtime/jwtauth"
)

// The configuration of one trusted issuer per identity provider, as the
// README's table shows it: which typ its access tokens carry, where their
// scopes are, and what tells them from its ID tokens. Each is tested
// against a token shaped after the provider's documentation
// (TestIdentityProviders, testdata/idp). The scopes a rule names
// (library.read …) are mapped from the provider's own names where they
// differ.

// auth0 trusts an Auth0 tenant ("https://tenant.auth0.com/", with its
// trailing slash) for the API whose identifier is
// https://library.example/api: scopes in scope, RBAC permissions in
// permissions; typ JWT (at+jwt with the RFC 9068 token profile).
func auth0(tenant string) jwtauth.Option {
	return jwtauth.Issuer(tenant,
		jwtauth.OIDCDiscovery(),
		jwtauth.Audience("https://library.example/api"),
		jwtauth.Types("at+jwt", "JWT"),
		jwtauth.ScopesFrom(jwtauth.Claim("scope"), jwtauth.Claim("permissions")),
	)
}

// okta trusts an Okta custom authorization server
// ("https://example.okta.com/oauth2/default"): scopes in the array scp,
// groups in a groups claim the server is configured to add; no typ at all,
// so the audience alone (api://default, never a client's ID as an ID
// token's is) tells access tokens from ID tokens.
func okta(server string) jwtauth.Option {
	return jwtauth.Issuer(server,
		jwtauth.OIDCDiscovery(),
		jwtauth.Audience("api://default"),
		jwtauth.Types("at+jwt", ""),
		jwtauth.ScopesFrom(
			jwtauth.Claim("scp"),
			jwtauth.Claim("groups").Map(map[string][]string{"Librarians": {"library.write"}}),
		),
	)
}

// entraID trusts a Microsoft Entra ID tenant's v2.0 tokens
// ("https://login.microsoftonline.com/<tenant id>/v2.0") for the API
// registered as application 6e74172b-…: delegated scopes in the string
// scp, application roles in roles; typ JWT.
func entraID(tenant string) jwtauth.Option {
	return jwtauth.Issuer(tenant,
		jwtauth.OIDCDiscovery(),
		jwtauth.Audience("6e74172b-be56-4843-9ff4-e66a39bb12e3"),
		jwtauth.Types("at+jwt", "JWT"),
		jwtauth.ScopesFrom(
			jwtauth.Claim("scp").Map(map[string][]string{"access_as_user": {"access_as_user"}, "Books.Read": {"library.read"}}),
			jwtauth.Claim("roles").Map(map[string][]string{"Books.Admin": {"library.admin"}}),
		),
	)
}

// keycloak trusts a Keycloak realm ("https://sso.example/realms/library")
// whose clients have an audience mapper adding "library": realm roles in
// realm_access.roles, the library client's roles in
// resource_access.library.roles, scopes in scope; typ JWT for access and ID
// tokens alike, which its typ claim tells apart (Bearer, ID).
func keycloak(realm string) jwtauth.Option {
	return jwtauth.Issuer(realm,
		jwtauth.OIDCDiscovery(),
		jwtauth.Audience("library"),
		jwtauth.Types("at+jwt", "JWT"),
		jwtauth.RequireClaim("typ", "Bearer"),
		jwtauth.ScopesFrom(
			jwtauth.Claim("scope"),
			jwtauth.Claim("realm_access", "roles").Map(map[string][]string{"librarian": {"library.write"}}),
			jwtauth.Claim("resource_access", "library", "roles").Map(map[string][]string{"catalogue-editor": {"library.catalogue"}}),
		),
	)
}

// google trusts the ID tokens Google signs for service-to-service calls
// (Cloud Run, a metadata server's identity token) addressed to
// https://library.example. Google's access tokens are opaque; these are
// the JWTs a service receives, typ JWT, without scopes: the calling
// service account's email maps to the scopes it holds here. Their iss is
// https://accounts.google.com, or accounts.google.com for some: both are
// trusted, with the same keys.
func google(keys string) []jwtauth.Option {
	google := func(iss string) jwtauth.Option {
		return jwtauth.Issuer(iss,
			jwtauth.JWKSURL(keys), // https://www.googleapis.com/oauth2/v3/certs
			jwtauth.Audience("https://library.example"),
			jwtauth.Types("JWT"),
			jwtauth.ScopesFrom(jwtauth.Claim("email").Map(map[string][]string{
				"exporter@library-project.iam.gserviceaccount.com": {"library.export"},
			})),
		)
	}
	return []jwtauth.Option{google("https://accounts.google.com"), google("accounts.google.com")}
}

// cognito trusts an AWS Cognito user pool
// ("https://cognito-idp.<region>.amazonaws.com/<pool id>") for its app
// client 1example23456789: access tokens have no aud and no typ, but name
// the app client in client_id and say token_use access (an ID token says
// id and has an aud instead); scopes in scope (custom ones as
// <resource server>/<scope>), groups in cognito:groups.
func cognito(pool string) jwtauth.Option {
	return jwtauth.Issuer(pool,
		jwtauth.OIDCDiscovery(),
		jwtauth.AudienceClaim("client_id"),
		jwtauth.Audience("1example23456789"),
		jwtauth.Types("at+jwt", ""),
		jwtauth.RequireClaim("token_use", "access"),
		jwtauth.ScopesFrom(
			jwtauth.Claim("scope").Map(map[string][]string{"library/read": {"library.read"}}),
			jwtauth.Claim("cognito:groups").Map(map[string][]string{"librarians": {"library.write"}}),
		),
	)
}

// One server trusting several providers at once: a token is verified by
// the issuer its iss names, and no other.
func ExampleIssuer_identityProviders() {
	opts := []jwtauth.Option{
		keycloak("https://sso.example/realms/library"),
		cognito("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example"),
	}
	opts = append(opts, google("https://www.googleapis.com/oauth2/v3/certs")...)
	a, err := jwtauth.New(opts...)
	if err != nil {
		panic(err)
	}
	_ = a // runtime.WithJWT(a)
}
