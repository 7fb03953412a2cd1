package ksef

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"time"
)

// Public key usages (§2.1).
const (
	UsageKsefToken    = "KsefTokenEncryption"
	UsageSymmetricKey = "SymmetricKeyEncryption"
)

// PublicKeyCertificate is one of KSeF's encryption certificates.
type PublicKeyCertificate struct {
	Certificate   []byte // DER
	CertificateID string
	PublicKeyID   string
	ValidFrom     time.Time
	ValidTo       time.Time
	Usage         []string
}

type wirePublicKey struct {
	Certificate   []byte    `json:"certificate"` // base64 in JSON
	CertificateID string    `json:"certificateId"`
	PublicKeyID   string    `json:"publicKeyId"`
	ValidFrom     time.Time `json:"validFrom"`
	ValidTo       time.Time `json:"validTo"`
	Usage         []string  `json:"usage"`
}

// Key list freshness (bezpieczenstwo/klucze-publiczne-do-szyfrowania.md): KSeF re-certifies a key
// without changing its publicKeyId, and no 21470 announces it, so a cached list silently ages. We
// refetch at least daily, whenever the chosen certificate is within a day of its validTo (at most
// every keyNearExpiryRefetch), and at once when the cached list has no certificate valid now.
const (
	keyMaxAge            = 24 * time.Hour
	keyNearExpiry        = 24 * time.Hour
	keyNearExpiryRefetch = 10 * time.Minute
)

// PublicKeys returns KSeF's encryption certificates, cached for at most a day (and dropped when a
// 21470 says a key was withdrawn).
func (c *Client) PublicKeys(ctx context.Context) ([]PublicKeyCertificate, error) {
	c.keysMu.Lock()
	defer c.keysMu.Unlock()
	if c.keys != nil && c.clock.Now().Sub(c.keysFetched) < keyMaxAge {
		return append([]PublicKeyCertificate(nil), c.keys...), nil
	}
	return c.fetchKeysLocked(ctx)
}

func (c *Client) fetchKeysLocked(ctx context.Context) ([]PublicKeyCertificate, error) {
	var wire []wirePublicKey
	if err := c.do(ctx, call{method: http.MethodGet, path: "/security/public-key-certificates", out: &wire}); err != nil {
		return nil, fmt.Errorf("public keys: %w", err)
	}
	keys := make([]PublicKeyCertificate, 0, len(wire))
	for _, w := range wire {
		keys = append(keys, PublicKeyCertificate(w))
	}
	c.keys, c.keysFetched = keys, c.clock.Now()
	c.log.Debug("KSeF public keys fetched", "certificates", len(keys))
	return append([]PublicKeyCertificate(nil), keys...), nil
}

// currentKey picks the certificate for usage, refetching the list when the cached one has none
// valid now or the chosen one is about to expire.
func (c *Client) currentKey(ctx context.Context, usage string) (*PublicKeyCertificate, error) {
	keys, err := c.PublicKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := c.clock.Now()
	k, perr := pickKey(keys, usage, now)
	if perr == nil && k.ValidTo.Sub(now) > keyNearExpiry {
		return k, nil
	}
	c.keysMu.Lock()
	recent := now.Sub(c.keysFetched) < keyNearExpiryRefetch
	c.keysMu.Unlock()
	if perr == nil && recent {
		return k, nil // near expiry, but the list was just fetched: nothing newer exists yet
	}
	c.keysMu.Lock()
	fresh, ferr := c.fetchKeysLocked(ctx)
	c.keysMu.Unlock()
	if ferr != nil {
		if perr == nil {
			c.log.Info("could not refresh KSeF public keys; the current certificate is still valid", "valid_to", k.ValidTo, "err", ferr)
			return k, nil
		}
		return nil, ferr
	}
	nk, err := pickKey(fresh, usage, now)
	if err != nil {
		return nil, err
	}
	if perr != nil || nk.CertificateID != k.CertificateID {
		c.log.Info("KSeF public key certificate renewed", "usage", usage, "public_key_id", nk.PublicKeyID, "valid_from", nk.ValidFrom, "valid_to", nk.ValidTo)
	}
	return nk, nil
}

// ForgetPublicKeys drops the cached key list, so the next encryption fetches it again. It is for a
// caller that learns from KSeF that a key it wrapped could not be decrypted without the 21470 that
// withKeyRetry handles: an online session opened with 201 whose status is 415 "Błąd odszyfrowania
// dostarczonego klucza" (CIRFMF/ksef-api #689, #653).
func (c *Client) ForgetPublicKeys() { c.invalidateKeys() }

func (c *Client) invalidateKeys() {
	c.keysMu.Lock()
	c.keys = nil
	c.keysMu.Unlock()
}

// withKeyRetry runs op (which encrypts with a KSeF key and sends the publicKeyId) and, when KSeF
// answers 21470 (key withdrawn in an emergency rotation), refetches the keys and runs it once more.
func (c *Client) withKeyRetry(ctx context.Context, op func() error) error {
	err := op()
	var api *APIError
	if err != nil && errors.As(err, &api) && api.HasCode(21470) {
		c.log.Warn("KSeF public key withdrawn, refetching keys")
		c.invalidateKeys()
		return op()
	}
	return err
}

// withEncryption runs op with k's encryption block (k wrapped in KSeF's symmetric-key key) under
// withKeyRetry, so a retry after a withdrawn key wraps k again in the refetched key.
func (c *Client) withEncryption(ctx context.Context, k symKey, op func(encryptionInfo) error) error {
	return c.withKeyRetry(ctx, func() error {
		enc, err := c.encryptionInfo(ctx, k)
		if err != nil {
			return err
		}
		return op(enc)
	})
}

// pickKey applies §2.1: per usage a certificate valid now, the latest validFrom wins.
func pickKey(keys []PublicKeyCertificate, usage string, now time.Time) (*PublicKeyCertificate, error) {
	var best *PublicKeyCertificate
	for i := range keys {
		k := &keys[i]
		if !hasUsage(k.Usage, usage) || now.Before(k.ValidFrom) || !now.Before(k.ValidTo) {
			continue
		}
		if best == nil || k.ValidFrom.After(best.ValidFrom) {
			best = k
		}
	}
	if best == nil {
		return nil, fmt.Errorf("ksef: no valid public key for usage %s", usage)
	}
	return best, nil
}

func hasUsage(us []string, u string) bool {
	for _, x := range us {
		if x == u {
			return true
		}
	}
	return false
}

// EncryptWithKey encrypts plaintext with RSA-OAEP (SHA-256, MGF1-SHA-256) using the current KSeF
// certificate for usage and returns the Base64 ciphertext and that key's publicKeyId.
func (c *Client) EncryptWithKey(ctx context.Context, usage string, plaintext []byte) (string, string, error) {
	k, err := c.currentKey(ctx, usage)
	if err != nil {
		return "", "", err
	}
	cert, err := x509.ParseCertificate(k.Certificate)
	if err != nil {
		return "", "", fmt.Errorf("ksef: parse %s certificate: %w", usage, err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "", "", fmt.Errorf("ksef: %s certificate has no RSA key", usage)
	}
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, plaintext, nil)
	if err != nil {
		return "", "", fmt.Errorf("ksef: RSA-OAEP: %w", err)
	}
	return base64.StdEncoding.EncodeToString(ct), k.PublicKeyID, nil
}

// symKey is an AES-256 key and CBC IV for one session or export.
type symKey struct {
	key []byte
	iv  []byte
}

func newSymKey() (symKey, error) {
	k := symKey{key: make([]byte, 32), iv: make([]byte, 16)}
	if _, err := rand.Read(k.key); err != nil {
		return symKey{}, err
	}
	if _, err := rand.Read(k.iv); err != nil {
		return symKey{}, err
	}
	return k, nil
}

type encryptionInfo struct {
	EncryptedSymmetricKey string `json:"encryptedSymmetricKey"`
	InitializationVector  string `json:"initializationVector"`
	PublicKeyID           string `json:"publicKeyId,omitempty"`
}

func (c *Client) encryptionInfo(ctx context.Context, k symKey) (encryptionInfo, error) {
	enc, id, err := c.EncryptWithKey(ctx, UsageSymmetricKey, k.key)
	if err != nil {
		return encryptionInfo{}, err
	}
	return encryptionInfo{EncryptedSymmetricKey: enc, InitializationVector: base64.StdEncoding.EncodeToString(k.iv), PublicKeyID: id}, nil
}

// encryptCBC is AES-256-CBC with PKCS#7 padding; the IV is not prepended (§3).
func encryptCBC(k symKey, plain []byte) ([]byte, error) {
	block, err := aes.NewCipher(k.key)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	out := make([]byte, len(plain)+pad)
	copy(out, plain)
	for i := len(plain); i < len(out); i++ {
		out[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, k.iv).CryptBlocks(out, out)
	return out, nil
}

// cbcStream encrypts or decrypts a stream with AES-CBC/PKCS#7 in bounded memory.
type cbcStream struct {
	mode    cipher.BlockMode
	encrypt bool
	w       io.Writer
	buf     []byte // pending bytes, < chunk
	n       int64  // bytes written to w
}

const cbcChunk = 64 * 1024

func newCBCWriter(k symKey, w io.Writer, encrypt bool) (*cbcStream, error) {
	block, err := aes.NewCipher(k.key)
	if err != nil {
		return nil, err
	}
	var m cipher.BlockMode
	if encrypt {
		m = cipher.NewCBCEncrypter(block, k.iv)
	} else {
		m = cipher.NewCBCDecrypter(block, k.iv)
	}
	return &cbcStream{mode: m, encrypt: encrypt, w: w, buf: make([]byte, 0, cbcChunk+aes.BlockSize)}, nil
}

func (s *cbcStream) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		take := min(cbcChunk+aes.BlockSize-len(s.buf), len(p))
		s.buf = append(s.buf, p[:take]...)
		p = p[take:]
		// flush whole chunks but always keep one block back: when decrypting it carries the padding
		if len(s.buf) == cbcChunk+aes.BlockSize {
			if err := s.flush(cbcChunk); err != nil {
				return 0, err
			}
		}
	}
	return total, nil
}

func (s *cbcStream) flush(n int) error {
	if n == 0 {
		return nil
	}
	s.mode.CryptBlocks(s.buf[:n], s.buf[:n])
	if _, err := s.w.Write(s.buf[:n]); err != nil {
		return err
	}
	s.n += int64(n)
	rest := copy(s.buf, s.buf[n:])
	s.buf = s.buf[:rest]
	return nil
}

// Close pads (encrypt) or strips and checks the padding (decrypt) of the final block.
func (s *cbcStream) Close() error {
	if s.encrypt {
		pad := aes.BlockSize - len(s.buf)%aes.BlockSize
		s.buf = append(s.buf, bytes.Repeat([]byte{byte(pad)}, pad)...)
		return s.flush(len(s.buf))
	}
	if len(s.buf) == 0 || len(s.buf)%aes.BlockSize != 0 {
		return errors.New("ksef: ciphertext is not a whole number of AES blocks")
	}
	s.mode.CryptBlocks(s.buf, s.buf)
	pad := int(s.buf[len(s.buf)-1])
	if pad == 0 || pad > aes.BlockSize || pad > len(s.buf) {
		return errors.New("ksef: bad PKCS#7 padding")
	}
	for _, b := range s.buf[len(s.buf)-pad:] {
		if int(b) != pad {
			return errors.New("ksef: bad PKCS#7 padding")
		}
	}
	n := len(s.buf) - pad
	if _, err := s.w.Write(s.buf[:n]); err != nil {
		return err
	}
	s.n += int64(n)
	s.buf = s.buf[:0]
	return nil
}

// hashB64 is the Base64 SHA-256 used in every KSeF hash field.
func hashB64(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// hashWriter streams a file's SHA-256 and size, for the hash and size fields of streamed files
// (batch archives, their encrypted parts, downloaded export parts).
type hashWriter struct {
	h hash.Hash
	n int64
}

func newHashWriter() *hashWriter { return &hashWriter{h: sha256.New()} }

func (w *hashWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return w.h.Write(p)
}

// sum is the Base64 SHA-256 of what was written, as hashB64 gives for a whole slice.
func (w *hashWriter) sum() string { return base64.StdEncoding.EncodeToString(w.h.Sum(nil)) }

// countingWriter counts bytes written through it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func marshalJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("ksef: encode request: %w", err)
	}
	return b, nil
}
