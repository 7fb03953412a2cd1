package ksef

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

// XadesAuth logs in with a certificate (qualified signature or seal, or a KSeF certificate) by signing
// the AuthTokenRequest with XAdES. It works whether or not KSeF tokens stop working on 2027-01-01,
// as announced.
type XadesAuth struct {
	Credentials *xades.Credentials
	// SubjectIdentifierType is certificateSubject (default: the certificate's NIP must match the
	// context) or certificateFingerprint (the certificate is registered in KSeF by its SHA-256).
	SubjectIdentifierType string
	// Now gives the XAdES SigningTime; nil means time.Now.
	Now func() time.Time
}

// Method implements Authenticator.
func (XadesAuth) Method() string { return "certificate" }

// String keeps key material out of %v formatting.
func (a XadesAuth) String() string {
	if a.Credentials == nil || a.Credentials.Certificate == nil {
		return "XadesAuth{}"
	}
	return "XadesAuth{" + xades.Fingerprint(a.Credentials.Certificate) + "}"
}

// CertificateExpiry is the NotAfter of the signing certificate (zero without credentials), so that the
// daemon can warn well before logins start failing.
func (a XadesAuth) CertificateExpiry() time.Time {
	if a.Credentials == nil || a.Credentials.Certificate == nil {
		return time.Time{}
	}
	return a.Credentials.Certificate.NotAfter
}

// Init signs an AuthTokenRequest for the challenge and the client's context and posts it to
// /auth/xades-signature.
func (a XadesAuth) Init(ctx context.Context, c *Client, ch Challenge) (*AuthInit, error) {
	if a.Credentials == nil {
		return nil, errors.New("ksef: XadesAuth.Credentials is nil")
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	id := c.Context()
	doc := xades.BuildAuthTokenRequest(ch.Challenge, id.Type, id.Value, a.SubjectIdentifierType)
	signed, err := xades.Sign(doc, a.Credentials, now())
	if err != nil {
		return nil, fmt.Errorf("xades auth: %w", err)
	}
	var out AuthInit
	if err := c.PostXML(ctx, "/auth/xades-signature", signed, &out); err != nil {
		return nil, fmt.Errorf("xades auth: %w", err)
	}
	return &out, nil
}
