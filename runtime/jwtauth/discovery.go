// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultMaxMetadataSize caps an authorization server's metadata document.
const DefaultMaxMetadataSize = 256 << 10

// discoveryKind is how an issuer's JWKS URL is found.
type discoveryKind uint8

const (
	noDiscovery discoveryKind = iota
	// oidcDiscovery: OpenID Connect Discovery 1.0 §4, the issuer followed
	// by /.well-known/openid-configuration.
	oidcDiscovery
	// oauthMetadata: RFC 8414 §3, /.well-known/oauth-authorization-server
	// inserted between the issuer's host and its path.
	oauthMetadata
)

func (k discoveryKind) String() string {
	if k == oauthMetadata {
		return "OAuthMetadata"
	}
	return "OIDCDiscovery"
}

// OIDCDiscovery finds the issuer's JWKS URL by OpenID Connect Discovery:
// the jwks_uri of the metadata at the issuer followed by
// /.well-known/openid-configuration (a trailing slash of the issuer
// dropped first), instead of [JWKSURL]. The issuer must be an https URL
// (http with [AllowHTTP]) without query or fragment.
//
// The metadata is fetched as the JWKS is, with the same hardening: https
// only, a size cap ([DefaultMaxMetadataSize]), redirects to the same origin
// only, [FetchTimeout], one fetch at a time, and the last good answer kept
// for [MaxStaleness] past its refresh ([RefreshInterval]) while fetches
// fail. Its issuer must equal the configured issuer exactly, and its
// jwks_uri must be an absolute https URL; otherwise no key is taken from
// it: calls fail with UNAVAILABLE AUTH_BACKEND_UNAVAILABLE once no good
// answer is known (OpenID Connect Discovery §4.3, RFC 8414 §3.3).
func OIDCDiscovery() IssuerOption { return discover(oidcDiscovery) }

// OAuthMetadata finds the issuer's JWKS URL by OAuth 2.0 Authorization
// Server Metadata (RFC 8414): the jwks_uri of the metadata at the issuer's
// origin, /.well-known/oauth-authorization-server, then the issuer's path
// (https://as.example/tenant1 has
// https://as.example/.well-known/oauth-authorization-server/tenant1), with
// the hardening and checks of [OIDCDiscovery].
func OAuthMetadata() IssuerOption { return discover(oauthMetadata) }

func discover(k discoveryKind) IssuerOption {
	return func(c *issuerConfig) error {
		if c.discovery != noDiscovery {
			return issuerErrorf("%s: the issuer is discovered already (%s)", k, c.discovery)
		}
		c.discovery = k
		return nil
	}
}

// metadataURL is where the issuer's metadata of kind k is, or why it has
// none.
func metadataURL(issuer string, k discoveryKind) (*url.URL, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return nil, fmt.Errorf("%s: the issuer %q is not an absolute http(s) URL", k, issuer)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(issuer, "#") {
		return nil, fmt.Errorf("%s: the issuer %q has a query or fragment", k, issuer)
	}
	base, path := u.Scheme+"://"+u.Host, strings.TrimSuffix(u.EscapedPath(), "/")
	at := base + path + "/.well-known/openid-configuration"
	if k == oauthMetadata {
		at = base + "/.well-known/oauth-authorization-server" + path
	}
	full, err := url.Parse(at)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k, err)
	}
	return full, nil
}

// discovered is the last good answer of the issuer's metadata.
type discovered struct {
	jwksURL   *url.URL
	refreshAt time.Time // after this, the metadata is fetched again
	staleAt   time.Time // after this, the answer is not used
}

// jwksURLNow returns the JWKS URL to fetch: the configured one, or the
// discovered one, fetching the metadata when its answer is due for
// refresh, and keeping the last good answer while fetches fail, until it
// is stale. It runs in the key source's one fetch at a time.
func (ks *keySource) jwksURLNow() (*url.URL, error) {
	if ks.cfg.discovery == noDiscovery {
		return ks.cfg.jwksURL, nil
	}
	now := ks.cfg.now()
	last := ks.discovered
	if last != nil && now.Before(last.refreshAt) {
		return last.jwksURL, nil
	}
	u, err := ks.fetchMetadata()
	if err != nil {
		if last != nil && now.Before(last.staleAt) {
			return last.jwksURL, nil // the last good answer, within its bound
		}
		return nil, fmt.Errorf("discovery: %w", err)
	}
	refreshAt := now.Add(ks.cfg.refreshInterval)
	ks.discovered = &discovered{jwksURL: u, refreshAt: refreshAt, staleAt: refreshAt.Add(ks.cfg.maxStaleness)}
	return u, nil
}

// fetchMetadata gets the issuer's metadata document and returns its
// jwks_uri, once the document says it is the configured issuer's.
func (ks *keySource) fetchMetadata() (*url.URL, error) {
	ks.metadataFetches.Add(1)
	body, err := ks.get(ks.metadataURL, "application/json", DefaultMaxMetadataSize)
	if err != nil {
		return nil, err
	}
	var md struct {
		Issuer  *string `json:"issuer"`
		JWKSURI *string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, errors.New("the metadata is not a JSON object with string issuer and jwks_uri")
	}
	switch {
	case md.Issuer == nil:
		return nil, errors.New("the metadata has no issuer")
	case *md.Issuer != ks.cfg.issuer:
		// Not quoted: it comes from the endpoint.
		return nil, errors.New("the metadata's issuer is not the configured issuer; no keys are taken from it")
	case md.JWKSURI == nil || *md.JWKSURI == "":
		return nil, errors.New("the metadata has no jwks_uri")
	}
	u, err := url.Parse(*md.JWKSURI)
	if err != nil || u.Host == "" || u.User != nil || !(u.Scheme == "https" || u.Scheme == "http" && ks.cfg.allowHTTP) {
		return nil, errors.New("the metadata's jwks_uri is not an absolute https URL")
	}
	return u, nil
}

// get fetches u with the key source's client, bounded by FetchTimeout and
// max bytes of body, detached from any caller, and returns a 200 answer's
// body. Its errors never quote the URL, whose query may hold a secret.
func (ks *keySource) get(u *url.URL, accept string, max int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ks.cfg.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, errors.New("fetch: the URL cannot be asked for")
	}
	req.Header.Set("Accept", accept)
	resp, err := ks.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("fetch: %s: %w", ue.Op, ue.Err)
		}
		return nil, fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // drained so the connection can be reused
		return nil, fmt.Errorf("fetch: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("fetch: reading body: %w", err)
	}
	if len(body) > max {
		return nil, fmt.Errorf("fetch: body larger than %d bytes", max)
	}
	return body, nil
}
