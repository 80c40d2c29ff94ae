// Copyright 2026 The protoc-gen-go-grpcauth Authors.
// SPDX-License-Identifier: Apache-2.0

package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of every denial.
const ErrorDomain = "grpcauth.v1"

// Reason is the stable, machine-readable reason of a denial, sent to the
// caller in google.rpc.ErrorInfo.reason. Reasons are never renamed.
type Reason string

// The reasons. The status code of each is given by [Reason.Code].
const (
	// ReasonCredentialsMissing: the method needs a credential and none was sent.
	ReasonCredentialsMissing Reason = "CREDENTIALS_MISSING"
	// ReasonCredentialsMalformed: the credential or its metadata is not well
	// formed: for a JWT, what cannot be read as a compact JWS at all (the
	// parts, their base64url, the header's JSON, a payload that is not a
	// JSON object).
	ReasonCredentialsMalformed Reason = "CREDENTIALS_MALFORMED"
	// ReasonTokenExpired: the token's exp has passed.
	ReasonTokenExpired Reason = "TOKEN_EXPIRED"
	// ReasonTokenNotYetValid: the token's nbf or iat is in the future.
	ReasonTokenNotYetValid Reason = "TOKEN_NOT_YET_VALID"
	// ReasonTokenInvalidSignature: the token's signature, algorithm or key is not acceptable.
	ReasonTokenInvalidSignature Reason = "TOKEN_INVALID_SIGNATURE"
	// ReasonTokenRevoked: the token was revoked or is not active.
	ReasonTokenRevoked Reason = "TOKEN_REVOKED"
	// ReasonIssuerUntrusted: the token's issuer is not one this server trusts.
	ReasonIssuerUntrusted Reason = "ISSUER_UNTRUSTED"
	// ReasonAudienceMismatch: the token is not meant for this server.
	ReasonAudienceMismatch Reason = "AUDIENCE_MISMATCH"
	// ReasonClaimsInvalid: the token is well formed but a required claim is
	// missing, a claim is of the wrong type, the token lives longer than
	// allowed, or its subject is not allowed.
	ReasonClaimsInvalid Reason = "CLAIMS_INVALID"
	// ReasonCredentialsInvalid: the credential is well formed but not one
	// this server knows: an unknown API key, a client certificate outside
	// the trust bundle or without a usable identity.
	ReasonCredentialsInvalid Reason = "CREDENTIALS_INVALID"
	// ReasonCredentialKindNotAccepted: the method does not accept this kind of credential.
	ReasonCredentialKindNotAccepted Reason = "CREDENTIAL_KIND_NOT_ACCEPTED"
	// ReasonTransportInsecure: the method requires TLS and the call came in plaintext.
	ReasonTransportInsecure Reason = "TRANSPORT_INSECURE"
	// ReasonScopeInsufficient: the caller lacks a scope the method requires.
	ReasonScopeInsufficient Reason = "SCOPE_INSUFFICIENT"
	// ReasonConditionFailed: the method's condition did not hold.
	ReasonConditionFailed Reason = "CONDITION_FAILED"
	// ReasonAuthBackendUnavailable: a key or introspection endpoint is down.
	ReasonAuthBackendUnavailable Reason = "AUTH_BACKEND_UNAVAILABLE"
	// ReasonMethodNotDeclared: no rule was declared for the method.
	ReasonMethodNotDeclared Reason = "METHOD_NOT_DECLARED"
)

// Code returns the gRPC status code that goes with r.
func (r Reason) Code() codes.Code {
	switch r {
	case ReasonScopeInsufficient, ReasonConditionFailed, ReasonMethodNotDeclared:
		return codes.PermissionDenied
	case ReasonAuthBackendUnavailable:
		return codes.Unavailable
	}
	return codes.Unauthenticated
}

// Error is a denial. It converts to a gRPC status (it implements
// GRPCStatus) carrying a google.rpc.ErrorInfo with Reason, [ErrorDomain]
// and Metadata.
//
// Message and Metadata are sent to the caller and must be safe. Detail is
// for the server's log only; it too must never hold a secret, since logs are
// read by more people than keys are.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Reason is the stable machine-readable reason.
	Reason Reason
	// Message is the human-readable, safe status message.
	Message string
	// Metadata is safe context for the caller, such as "missing_scopes".
	Metadata map[string]string
	// Detail is a safe explanation for the server's log, never sent.
	Detail string
	// Local is true for an error a generated client made before sending
	// anything (a preflight refusal), false for a server's answer.
	Local bool

	cause error
}

// NewError returns a denial with reason r, r's status code and message.
func NewError(r Reason, message string) *Error {
	return &Error{Code: r.Code(), Reason: r, Message: message}
}

// WithDetail sets the server-side detail and returns e.
func (e *Error) WithDetail(format string, args ...any) *Error {
	e.Detail = fmt.Sprintf(format, args...)
	return e
}

// WithCause records the underlying error for errors.Is and errors.As; it is
// never sent to the caller.
func (e *Error) WithCause(err error) *Error {
	e.cause = err
	return e
}

// WithMetadata adds a key and value to the ErrorInfo metadata and returns e.
func (e *Error) WithMetadata(key, value string) *Error {
	if e.Metadata == nil {
		e.Metadata = make(map[string]string, 2)
	}
	e.Metadata[key] = value
	return e
}

// DecisionID returns the id of the server's decision that made this
// denial (the ErrorInfo metadata entry [DecisionIDKey]), which the server's
// log line, audit event and span carry too; "" for a refusal the client
// made itself (Local) or an error from a server that sends none.
func (e *Error) DecisionID() string { return e.Metadata[DecisionIDKey] }

// Error returns "<reason>: <message>".
func (e *Error) Error() string {
	return string(e.Reason) + ": " + e.Message
}

// Unwrap returns the cause given to WithCause.
func (e *Error) Unwrap() error { return e.cause }

// GRPCStatus returns the status sent to the caller.
func (e *Error) GRPCStatus() *status.Status {
	st := status.New(e.Code, e.Message)
	info := &errdetails.ErrorInfo{Reason: string(e.Reason), Domain: ErrorDomain, Metadata: e.Metadata}
	if withInfo, err := st.WithDetails(info); err == nil {
		return withInfo
	}
	return st
}

// FromError returns the denial carried by err: an *Error in err's chain, or
// one rebuilt from a gRPC status whose details hold an ErrorInfo of
// [ErrorDomain] (as a client receives it). It returns nil, false otherwise.
func FromError(err error) (*Error, bool) {
	if err == nil {
		return nil, false
	}
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	st, ok := status.FromError(err)
	if !ok {
		return nil, false
	}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.GetDomain() != ErrorDomain {
			continue
		}
		return &Error{Code: st.Code(), Reason: Reason(info.GetReason()), Message: st.Message(), Metadata: info.GetMetadata()}, true
	}
	return nil, false
}

// asDenial turns an authenticator's error into a denial. Authenticators
// report caller faults as *Error; a cancelled call keeps its code; any other
// error is an auth backend failure and fails closed as UNAVAILABLE.
func asDenial(err error) *Error {
	if found, ok := FromError(err); ok {
		// A copy: the enforcer annotates it (the method), and an
		// authenticator may hand the same *Error to concurrent calls.
		e := *found
		e.Metadata = maps.Clone(found.Metadata)
		switch e.Code {
		case codes.Unauthenticated, codes.PermissionDenied, codes.Unavailable, codes.Canceled, codes.DeadlineExceeded:
		default: // never let an authenticator's odd code (OK among them) through
			e.Code = e.Reason.Code()
		}
		return &e
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{Code: codes.Canceled, Reason: ReasonAuthBackendUnavailable, Message: "the call was cancelled during authentication", cause: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: codes.DeadlineExceeded, Reason: ReasonAuthBackendUnavailable, Message: "the call's deadline passed during authentication", cause: err}
	}
	return NewError(ReasonAuthBackendUnavailable, "the credential could not be checked; try again later").WithCause(err).WithDetail("authenticator failed: %v", err)
}
