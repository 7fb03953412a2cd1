package qrfiles

import (
	"errors"
	"fmt"

	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

// LoadSigner reads the KSeF Offline certificate that signs KOD II: certFile + keyFile (PEM), or
// p12File (PKCS#12), with password as for the login key (config.ReadKeyPassword). It returns nil
// and no error when none is configured: then only KOD I is written. An Authentication certificate,
// or any other that is not of type Offline, is refused with a message that says which one is needed.
func LoadSigner(certFile, keyFile, p12File string, password []byte) (*ksef.OfflineSigner, error) {
	var (
		creds *xades.Credentials
		err   error
		from  string
	)
	switch {
	case p12File != "":
		from = p12File
		creds, err = xades.LoadPKCS12(p12File, password)
	case certFile != "":
		from = certFile
		creds, err = xades.LoadPEM(certFile, keyFile, password)
	case keyFile != "":
		return nil, errors.New("auth.offline_key_file is set without auth.offline_cert_file")
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the Offline certificate (for KOD II): %w", err)
	}
	s, err := ksef.NewOfflineSigner(creds.Certificate, creds.Key)
	if errors.Is(err, ksef.ErrNotOfflineCertificate) {
		return nil, fmt.Errorf("%s: %w; the certificate used to log in cannot sign KOD II: request a KSeF certificate of type Offline in the KSeF application and set auth.offline_cert_file/offline_key_file or auth.offline_p12_file to it", from, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	return s, nil
}
