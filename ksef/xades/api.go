// Package xades builds, signs and verifies the enveloped XAdES-BES AuthTokenRequest documents used for
// certificate login to KSeF 2.0. The client signs with it; the simulator verifies with it.
//
// Signing always produces one shape: ds:Signature as the last child of the root, exclusive c14n,
// SHA-256 digests, RSA PKCS#1 v1.5 or ECDSA (R||S) SHA-256, a reference to the whole document
// (enveloped-signature transform) and one to xades:SignedProperties (SigningTime,
// SigningCertificate). Verification is broader so that documents signed by other tools pass: C14N
// 1.0/1.1 inclusive and exclusive, with or without comments, any namespace prefixes, SHA-1/2/3
// digests, RSA PKCS#1 v1.5, RSA-PSS (RFC 6931 "sha*-rsa-MGF1") and ECDSA. It is checked against
// xmlsec1 in both directions by the tests. Not supported: enveloping signatures (AuthTokenRequest
// inside ds:Object), XPath and XPath-Filter-2 transforms, and references other than "" and "#id".
//
// Credentials come from PEM files (PKCS#8, PKCS#1, SEC1; PBES2-encrypted PKCS#8 and legacy
// "Proc-Type: 4,ENCRYPTED" keys) or PKCS#12 files; keys must be RSA ≥2048 bits or ECDSA P-256/P-384.
package xades

import (
	"crypto"
	"crypto/x509"
	"time"
)

// Namespaces of the AuthTokenRequest document.
const (
	NamespaceAuth20 = "http://ksef.mf.gov.pl/auth/token/2.0"
	NamespaceAuth21 = "http://ksef.mf.gov.pl/auth/token/2.1"
)

// Credentials are a signing certificate with its private key and optional chain.
type Credentials struct {
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	Key         crypto.Signer
}

// String identifies the credentials by certificate fingerprint and keeps key material out of logs.
func (c *Credentials) String() string {
	if c == nil || c.Certificate == nil {
		return "Credentials{}"
	}
	return "Credentials{" + c.Certificate.Subject.CommonName + " " + Fingerprint(c.Certificate) + "}"
}

// CredentialError explains why certificate or key files could not be used.
type CredentialError struct {
	Kind string // wrong-password | key-mismatch | unsupported-key | bad-file | not-found
	Msg  string
}

func (e *CredentialError) Error() string { return e.Msg }

// VerifyError carries the KSeF error code for a rejected AuthTokenRequest.
type VerifyError struct {
	Code        int
	Description string
}

func (e *VerifyError) Error() string { return e.Description }

// AuthTokenRequest is what a verified document says.
type AuthTokenRequest struct {
	Challenge             string
	ContextType           string
	ContextValue          string
	SubjectIdentifierType string
	Certificate           *x509.Certificate
	SigningTime           time.Time
}

// TestCertOptions describe a self-signed certificate as KSeF TEST accepts it.
type TestCertOptions struct {
	NIP        string
	KeyType    string // rsa | ecdsa
	CommonName string
	NotBefore  time.Time
	NotAfter   time.Time
}
