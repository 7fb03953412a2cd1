package ksefsim

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"time"
)

const (
	usageToken     = "KsefTokenEncryption"
	usageSymmetric = "SymmetricKeyEncryption"
)

// keyPair is one MF public key certificate with its private key, persisted as DER.
type keyPair struct {
	Usage     string
	KeyDER    []byte // PKCS#8
	CertDER   []byte
	ValidFrom time.Time
	ValidTo   time.Time

	key *rsa.PrivateKey
}

func (k *keyPair) certificateID() string {
	sum := sha256.Sum256(k.CertDER)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func (k *keyPair) publicKeyID() string {
	cert, err := x509.ParseCertificate(k.CertDER)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func (k *keyPair) privateKey() (*rsa.PrivateKey, error) {
	if k.key != nil {
		return k.key, nil
	}
	pk, err := x509.ParsePKCS8PrivateKey(k.KeyDER)
	if err != nil {
		return nil, fmt.Errorf("parse sim key: %w", err)
	}
	rk, ok := pk.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("sim key is not RSA")
	}
	k.key = rk
	return rk, nil
}

func generateKeyPair(usage string, now time.Time) (*keyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate RSA key: %w", err)
	}
	from := now.Add(-time.Hour).UTC().Truncate(time.Second)
	to := now.AddDate(2, 0, 0).UTC().Truncate(time.Second)
	der, err := certifyMF(key, usage, from, to)
	if err != nil {
		return nil, err
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return &keyPair{Usage: usage, KeyDER: kd, CertDER: der, ValidFrom: from, ValidTo: to, key: key}, nil
}

func rsaDecryptOAEP(k *keyPair, ciphertext []byte) ([]byte, error) {
	key, err := k.privateKey()
	if err != nil {
		return nil, err
	}
	return rsa.DecryptOAEP(sha256.New(), nil, key, ciphertext, nil)
}

var errPadding = errors.New("invalid PKCS#7 padding")

// aesCBCDecrypt decrypts AES-256-CBC with PKCS#7 padding; the IV is not part of the ciphertext.
func aesCBCDecrypt(key, iv, ct []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes key: %w", err)
	}
	if len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("iv must be %d bytes, got %d", aes.BlockSize, len(iv))
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("ciphertext length %d is not a multiple of the block size", len(ct))
	}
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ct)
	n := int(out[len(out)-1])
	if n == 0 || n > aes.BlockSize || n > len(out) || !bytes.Equal(out[len(out)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, errPadding
	}
	return out[:len(out)-n], nil
}

func aesCBCEncrypt(key, iv, pt []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes key: %w", err)
	}
	n := aes.BlockSize - len(pt)%aes.BlockSize
	buf := make([]byte, len(pt)+n)
	copy(buf, pt)
	for i := len(pt); i < len(buf); i++ {
		buf[i] = byte(n)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	return buf, nil
}

func sha256B64(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// recertify issues a new certificate for k's key (same publicKeyId), valid from now for validFor
// (default 2 years). validFrom is strictly after `after` (the newest earlier certificate's) so
// "latest validFrom wins" picks it.
func recertify(k *keyPair, now, after time.Time, validFor time.Duration) (*keyPair, error) {
	key, err := k.privateKey()
	if err != nil {
		return nil, err
	}
	if validFor <= 0 {
		validFor = 2 * 365 * 24 * time.Hour
	}
	from := now.UTC().Truncate(time.Second)
	if !from.After(after) {
		from = after.Add(time.Second)
	}
	to := from.Add(validFor)
	der, err := certifyMF(key, k.Usage, from, to)
	if err != nil {
		return nil, err
	}
	return &keyPair{Usage: k.Usage, KeyDER: k.KeyDER, CertDER: der, ValidFrom: from, ValidTo: to, key: key}, nil
}

// certifyMF issues the self-signed certificate of one of the Ministry's encryption keys (usage is
// its organizational unit), valid from from to to, with a random 64-bit serial; it returns the DER.
func certifyMF(key *rsa.PrivateKey, usage string, from, to time.Time) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Ministerstwo Finansów", Organization: []string{"Ministerstwo Finansów"}, Country: []string{"PL"}, OrganizationalUnit: []string{usage}},
		NotBefore:    from,
		NotAfter:     to,
		KeyUsage:     x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	return der, nil
}
