// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package mtls

import "github.com/spiffe/go-spiffe/v2/spiffeid"

// ParseSPIFFE exposes the SPIFFE identity parser to the fuzz target: it
// parses raw, a URI SAN as written in a certificate, as a workload ID of
// trustDomain and returns the identity AuthenticatePeer would use.
func ParseSPIFFE(raw, trustDomain string) (string, error) {
	td, err := spiffeid.TrustDomainFromString(trustDomain)
	if err != nil {
		return "", err
	}
	id, err := parseSPIFFE(raw, td)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// URISANsFromExtension exposes the SubjectAltName URI reader.
var URISANsFromExtension = uriSANsFromExtension
