package xades

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"
)

var (
	oidSerialNumber           = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}
	nipPattern                = regexp.MustCompile(`^[1-9]((\d[1-9])|([1-9]\d))\d{7}$`)
	// serialNumber of qualified personal certificates (ETSI EN 319 412-1 semantics identifier).
	subjectSerialNIP = regexp.MustCompile(`^(?:TINPL-|NIP-?)(\d{10})$`)
	// organizationIdentifier of qualified seals.
	orgIdentifierNIP = regexp.MustCompile(`^VATPL-(\d{10})$`)
)

// CertificateNIP returns the Polish tax number a certificate is issued for: the subject serialNumber
// "TINPL-<NIP>", "NIP-<NIP>" or "NIP<NIP>" (personal certificates), or the organizationIdentifier
// "VATPL-<NIP>" (company seals).
func CertificateNIP(cert *x509.Certificate) (string, bool) {
	if cert == nil {
		return "", false
	}
	for _, name := range cert.Subject.Names {
		value, ok := name.Value.(string)
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		var m []string
		switch {
		case name.Type.Equal(oidSerialNumber):
			m = subjectSerialNIP.FindStringSubmatch(value)
		case name.Type.Equal(oidOrganizationIdentifier):
			m = orgIdentifierNIP.FindStringSubmatch(value)
		}
		if m != nil && nipPattern.MatchString(m[1]) {
			return m[1], true
		}
	}
	return "", false
}

// Fingerprint is the certificate's SHA-256 over DER in upper-case hex, as KSeF uses it for
// certificateFingerprint logins.
func Fingerprint(cert *x509.Certificate) string {
	if cert == nil {
		return ""
	}
	sum := sha256.Sum256(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// IsSelfSigned reports whether cert is issued by itself and its signature verifies with its own key.
// Unlike cert.CheckSignatureFrom(cert) it does not demand CA rights: self-signed KSeF TEST
// certificates are end-entity certificates (keyUsage digitalSignature|nonRepudiation, no cA flag).
func IsSelfSigned(cert *x509.Certificate) bool {
	return cert != nil && bytes.Equal(cert.RawIssuer, cert.RawSubject) &&
		cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil
}

// GenerateTestCertificate creates a self-signed certificate in the shape KSeF TEST accepts: subject
// with CN, O, C=PL, serialNumber "TINPL-<NIP>" (as a personal certificate) and organizationIdentifier
// "VATPL-<NIP>" (as a company seal), key usage digitalSignature|nonRepudiation. The key is returned
// as unencrypted PKCS#8 PEM.
func GenerateTestCertificate(opts TestCertOptions) (certPEM, keyPEM []byte, err error) {
	if !nipPattern.MatchString(opts.NIP) {
		return nil, nil, fmt.Errorf("xades: %q is not a valid NIP", opts.NIP)
	}
	key, err := generateKey(opts.KeyType)
	if err != nil {
		return nil, nil, err
	}
	notBefore, notAfter := opts.NotBefore, opts.NotAfter
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = notBefore.AddDate(2, 0, 0)
	}
	if !notAfter.After(notBefore) {
		return nil, nil, errors.New("xades: NotAfter must be after NotBefore")
	}
	cn := opts.CommonName
	if cn == "" {
		cn = "ksef-sync test " + opts.NIP
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	subject := pkix.Name{
		CommonName:   cn,
		Organization: []string{cn},
		Country:      []string{"PL"},
		SerialNumber: "TINPL-" + opts.NIP,
		ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: oidOrganizationIdentifier, Value: "VATPL-" + opts.NIP},
		},
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               subject,
		Issuer:                subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("xades: create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("xades: marshal key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

func generateKey(keyType string) (crypto.Signer, error) {
	switch keyType {
	case "", "rsa":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ecdsa":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("xades: unknown key type %q (want rsa or ecdsa)", keyType)
}
