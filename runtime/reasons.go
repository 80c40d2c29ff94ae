// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

// allReasons lists every Reason constant, in the order of the README's
// table; a test keeps it in step with the constants and with
// docs/troubleshooting.md.
var allReasons = []Reason{
	ReasonCredentialsMissing,
	ReasonCredentialsMalformed,
	ReasonTokenExpired,
	ReasonTokenNotYetValid,
	ReasonTokenInvalidSignature,
	ReasonTokenRevoked,
	ReasonIssuerUntrusted,
	ReasonAudienceMismatch,
	ReasonCredentialsInvalid,
	ReasonClaimsInvalid,
	ReasonCredentialKindNotAccepted,
	ReasonTransportInsecure,
	ReasonScopeInsufficient,
	ReasonConditionFailed,
	ReasonMethodNotDeclared,
	ReasonAuthBackendUnavailable,
}

// Reasons returns every reason this runtime reports, a new slice each
// call. A telemetry integration uses it to keep its attribute values to
// this set.
func Reasons() []Reason { return append([]Reason(nil), allReasons...) }
