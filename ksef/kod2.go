package ksef

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

// OfflineSigner signs KOD II links: a KSeF certificate of type Offline and its private key.
type OfflineSigner struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// ErrNotOfflineCertificate is returned for a certificate KSeF issued for authentication: KOD II
// must be signed with a certificate of type Offline (certyfikaty-KSeF.md).
var ErrNotOfflineCertificate = errors.New("this is not a KSeF Offline certificate: KOD II needs a certificate of type Offline (key usage nonRepudiation); an Authentication certificate (digitalSignature) is refused")

// NewOfflineSigner checks that cert is an Offline certificate whose public key matches key, and
// that the key is RSA (≥ 2048 bits, signed with PSS) or ECDSA P-256.
//
// certyfikaty-KSeF.md: the certificate type is carried in keyUsage — Offline: Non-Repudiation;
// Authentication: Digital Signature.
func NewOfflineSigner(cert *x509.Certificate, key crypto.Signer) (*OfflineSigner, error) {
	if cert.KeyUsage&x509.KeyUsageContentCommitment == 0 || cert.KeyUsage&x509.KeyUsageDigitalSignature != 0 {
		return nil, ErrNotOfflineCertificate
	}
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("the Offline key has %d bits; KOD II needs RSA of at least 2048 bits", pub.N.BitLen())
		}
		if cp, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !cp.Equal(pub) {
			return nil, errors.New("the Offline key does not belong to the Offline certificate")
		}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, errors.New("the Offline key is ECDSA on another curve; KOD II needs P-256")
		}
		if cp, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !cp.Equal(pub) {
			return nil, errors.New("the Offline key does not belong to the Offline certificate")
		}
	default:
		return nil, fmt.Errorf("the Offline key is %T; KOD II needs RSA or ECDSA P-256", pub)
	}
	return &OfflineSigner{Cert: cert, Key: key}, nil
}

// certSerialHex is the certificate's serial number as KSeF writes it: upper-case hex of 16 digits
// (open-api.json, certificateSerialNumber: "pattern": "^[0-9A-F]{16}$", "minLength": 16), so a
// serial whose first byte is 0 keeps its leading zeros, which the integer's shortest bytes drop.
func certSerialHex(cert *x509.Certificate) string {
	return fmt.Sprintf("%016X", cert.SerialNumber)
}

// QRCodeII builds the KOD II link (§11, kody-qr.md):
//
//	{qrBase}/certificate/{ctxType}/{ctxValue}/{sellerNIP}/{certSerialHex}/{invoiceHash}/{signature}
//
// The signed string is that link up to and including the invoice hash, without "https://" and
// without a trailing slash, in UTF-8; the signature is SHA-256 with RSASSA-PSS (MGF1-SHA-256, salt
// 32) or ECDSA P-256 as IEEE P1363 R||S, Base64URL without padding. ctxType is Nip, InternalId,
// NipVatUe or PeppolId.
func (s *OfflineSigner) QRCodeII(qrBase, ctxType, ctxValue, sellerNIP string, invoiceSHA256 []byte) (string, error) {
	unsigned := fmt.Sprintf("%s/certificate/%s/%s/%s/%s/%s", trimSlash(qrBase), ctxType, ctxValue, sellerNIP,
		certSerialHex(s.Cert), base64.RawURLEncoding.EncodeToString(invoiceSHA256))
	signed := strings.TrimPrefix(strings.TrimPrefix(unsigned, "https://"), "http://")
	sig, err := s.sign([]byte(signed))
	if err != nil {
		return "", fmt.Errorf("sign KOD II: %w", err)
	}
	return unsigned + "/" + base64.RawURLEncoding.EncodeToString(sig), nil
}

func (s *OfflineSigner) sign(msg []byte) ([]byte, error) {
	digest := sha256.Sum256(msg)
	switch pub := s.Key.Public().(type) {
	case *rsa.PublicKey:
		return s.Key.Sign(rand.Reader, digest[:], &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256})
	case *ecdsa.PublicKey:
		der, err := s.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		return xades.P1363(der, pub)
	}
	return nil, errors.New("unsupported key")
}
