package xades

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"software.sslmate.com/src/go-pkcs12"
)

// Credential error kinds.
const (
	KindWrongPassword  = "wrong-password"
	KindKeyMismatch    = "key-mismatch"
	KindUnsupportedKey = "unsupported-key"
	KindBadFile        = "bad-file"
	KindNotFound       = "not-found"
)

const minRSABits = 2048

func credErr(kind, format string, args ...any) *CredentialError {
	return &CredentialError{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// LoadPEM reads a PEM certificate (optionally followed by its chain) and a PEM private key. The key may
// be PKCS#8, PKCS#1 or SEC1, plain, PBES2-encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY") or legacy
// OpenSSL-encrypted ("Proc-Type: 4,ENCRYPTED"). keyFile may be empty when certFile holds the key too.
// password is only used for encrypted keys and never appears in errors.
func LoadPEM(certFile, keyFile string, password []byte) (*Credentials, error) {
	certData, err := readCredentialFile(certFile)
	if err != nil {
		return nil, err
	}
	certs, err := parseCertificatesPEM(certData, certFile)
	if err != nil {
		return nil, err
	}
	keyData, keySource := certData, certFile
	if keyFile != "" {
		if keyData, err = readCredentialFile(keyFile); err != nil {
			return nil, err
		}
		keySource = keyFile
	}
	key, err := parsePrivateKeyPEM(keyData, keySource, password)
	if err != nil {
		return nil, err
	}
	return assembleCredentials(key, certs, keySource)
}

// LoadPKCS12 reads a PKCS#12 (.p12/.pfx) file with the key, its certificate and optional chain.
func LoadPKCS12(file string, password []byte) (*Credentials, error) {
	data, err := readCredentialFile(file)
	if err != nil {
		return nil, err
	}
	key, cert, chain, err := pkcs12.DecodeChain(data, string(password))
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption) {
			return nil, credErr(KindWrongPassword, "wrong password for %s", filepath.Base(file))
		}
		return nil, credErr(KindBadFile, "%s is not a usable PKCS#12 file: %v", filepath.Base(file), err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, credErr(KindUnsupportedKey, "unsupported private key type %T in %s", key, filepath.Base(file))
	}
	return assembleCredentials(signer, append([]*x509.Certificate{cert}, chain...), file)
}

func readCredentialFile(name string) ([]byte, error) {
	data, err := os.ReadFile(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, credErr(KindNotFound, "file not found: %s", name)
	case err != nil:
		return nil, credErr(KindBadFile, "cannot read %s: %v", name, err)
	}
	return data, nil
}

func parseCertificatesPEM(data []byte, source string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, credErr(KindBadFile, "bad certificate in %s: %v", filepath.Base(source), err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, credErr(KindBadFile, "no PEM certificate found in %s", filepath.Base(source))
	}
	return certs, nil
}

func parsePrivateKeyPEM(data []byte, source string, password []byte) (crypto.Signer, error) {
	base := filepath.Base(source)
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		switch block.Type {
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		default:
			continue
		}
		der := block.Bytes
		//lint:ignore SA1019 legacy OpenSSL PEM encryption is still what many tools write.
		if x509.IsEncryptedPEMBlock(block) { //nolint:staticcheck
			if len(password) == 0 {
				return nil, credErr(KindWrongPassword, "key in %s is encrypted but no password was given", base)
			}
			var err error
			der, err = x509.DecryptPEMBlock(block, password) //nolint:staticcheck
			if err != nil {
				return nil, credErr(KindWrongPassword, "wrong key password for %s", base)
			}
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" {
			if len(password) == 0 {
				return nil, credErr(KindWrongPassword, "key in %s is encrypted but no password was given", base)
			}
			plain, err := decryptPKCS8(der, password)
			if err != nil {
				if errors.Is(err, errWrongPassword) {
					return nil, credErr(KindWrongPassword, "wrong key password for %s", base)
				}
				return nil, credErr(KindBadFile, "cannot decrypt key in %s: %v", base, err)
			}
			der = plain
		}
		key, err := parsePrivateKeyDER(der)
		if err != nil {
			if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
				// Legacy encryption has no integrity check: a wrong password usually yields garbage.
				return nil, credErr(KindWrongPassword, "wrong key password for %s", base)
			}
			return nil, credErr(KindBadFile, "bad private key in %s: %v", base, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, credErr(KindUnsupportedKey, "unsupported private key type %T in %s", key, base)
		}
		return signer, nil
	}
	return nil, credErr(KindBadFile, "no PEM private key found in %s", base)
}

func parsePrivateKeyDER(der []byte) (any, error) {
	if key, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return key, nil
	}
	if key, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return key, nil
	}
	key, err := x509.ParseECPrivateKey(der)
	if err != nil {
		return nil, errors.New("not a PKCS#8, PKCS#1 or SEC1 key")
	}
	return key, nil
}

// assembleCredentials picks the certificate that belongs to key; the remaining ones form the chain.
func assembleCredentials(key crypto.Signer, certs []*x509.Certificate, source string) (*Credentials, error) {
	if err := checkKeyStrength(key.Public()); err != nil {
		return nil, credErr(KindUnsupportedKey, "%s: %v", filepath.Base(source), err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	leaf := -1
	for i, c := range certs {
		if pub, ok := c.PublicKey.(equaler); ok && pub.Equal(key.Public()) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		return nil, credErr(KindKeyMismatch, "the private key in %s does not match the certificate", filepath.Base(source))
	}
	chain := make([]*x509.Certificate, 0, len(certs)-1)
	for i, c := range certs {
		if i != leaf {
			chain = append(chain, c)
		}
	}
	return &Credentials{Certificate: certs[leaf], Chain: chain, Key: key}, nil
}

func checkKeyStrength(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key has %d bits, KSeF needs at least %d", k.N.BitLen(), minRSABits)
		}
		return nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384():
			return nil
		}
		return fmt.Errorf("ECDSA curve %s is not supported (use P-256)", k.Curve.Params().Name)
	default:
		return fmt.Errorf("key type %T is not supported (use RSA ≥2048 or ECDSA P-256)", pub)
	}
}
