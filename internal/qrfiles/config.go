package qrfiles

import (
	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/ksef"
)

// SignerFromConfig loads the Offline certificate named by auth.offline_cert_file +
// auth.offline_key_file or auth.offline_p12_file, with the password from auth.key_password_env /
// auth.key_password_file. It returns nil and no error when none is configured.
func SignerFromConfig(cfg *config.Config) (*ksef.OfflineSigner, error) {
	a := cfg.Auth
	if a.OfflineCertFile == "" && a.OfflineKeyFile == "" && a.OfflineP12File == "" {
		return nil, nil
	}
	pw, err := cfg.ReadKeyPassword()
	if err != nil {
		return nil, err
	}
	defer clear(pw)
	return LoadSigner(a.OfflineCertFile, a.OfflineKeyFile, a.OfflineP12File, pw)
}
