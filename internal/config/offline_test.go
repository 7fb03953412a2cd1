package config

import (
	"path/filepath"
	"regexp"
	"testing"
)

func TestOfflineKeysMisconfigured(t *testing.T) {
	tests := []struct {
		name, edit      string
		after           string
		wantKey, wantRe string
	}{
		{"status url not absolute", `status_url = "api-latarnia.ksef.mf.gov.pl"`, "[ksef]", "ksef.status_url", `not an absolute http\(s\) URL`},
		{"offline cert without key", `offline_cert_file = "secrets/token.txt"`, "[auth]", "auth.offline_key_file", `offline_key_file is missing`},
		{"offline key without cert", `offline_key_file = "secrets/token.txt"`, "[auth]", "auth.offline_cert_file", `offline_cert_file is missing`},
		{"offline p12 and pem", "offline_p12_file = \"secrets/token.txt\"\noffline_cert_file = \"secrets/token.txt\"", "[auth]", "auth.offline_p12_file", `not both`},
		{"offline p12 missing", `offline_p12_file = "secrets/none.p12"`, "[auth]", "auth.offline_p12_file", `cannot read`},
		{"qr is the outbox", `qr = "ksef/outbox"`, "[folders]", "folders.qr", `same folder as folders.outbox`},
		{"qr inside the outbox", `qr = "ksef/outbox/qr"`, "[folders]", "folders.qr", `inside folders.outbox`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := loadProblems(t, add(tt.after, tt.edit)(baseConfig))
			for _, p := range ps {
				if p.Key == tt.wantKey && regexp.MustCompile(tt.wantRe).MatchString(p.Msg) {
					return
				}
			}
			t.Errorf("problems = %v, want %s matching %q", ps, tt.wantKey, tt.wantRe)
		})
	}
}

func TestOfflineKeysLoad(t *testing.T) {
	text := add("[folders]", `qr = "ksef/qr"`)(add("[auth]", "offline_cert_file = \"secrets/token.txt\"\noffline_key_file = \"secrets/token.txt\"")(baseConfig))
	path := writeConfig(t, text)
	cfg := mustLoad(t, path)
	dir := filepath.Dir(path)
	if cfg.Folders.QR != filepath.Join(dir, "ksef", "qr") || cfg.Auth.OfflineCertFile != filepath.Join(dir, "secrets", "token.txt") {
		t.Errorf("paths not resolved: qr %q, offline cert %q", cfg.Folders.QR, cfg.Auth.OfflineCertFile)
	}
	found := false
	for _, u := range cfg.FoldersInUse() {
		found = found || (u.Key == "folders.qr" && u.Path == cfg.Folders.QR && !u.MustExist)
	}
	if !found {
		t.Errorf("FoldersInUse = %+v, want folders.qr", cfg.FoldersInUse())
	}
	for env, want := range map[string]string{"test": "https://api-latarnia-test.ksef.mf.gov.pl", "demo": "https://api-latarnia-test.ksef.mf.gov.pl", "prod": "https://api-latarnia.ksef.mf.gov.pl"} {
		cfg.KSeF.Environment = env
		if got := cfg.StatusBaseURL(); got != want {
			t.Errorf("%s: StatusBaseURL = %q, want %q", env, got, want)
		}
	}
	cfg.KSeF.StatusURL = "http://127.0.0.1:8080/latarnia/"
	if got := cfg.StatusBaseURL(); got != "http://127.0.0.1:8080/latarnia" {
		t.Errorf("override: StatusBaseURL = %q", got)
	}
}

func TestOfflineModeValues(t *testing.T) {
	for _, tt := range []struct{ value, want string }{
		{`true`, "offline24"}, {`false`, ""}, {`"offline24"`, "offline24"}, {`""`, ""},
	} {
		cfg, err := Load(writeConfig(t, add("[send]", "offline_mode = "+tt.value)(baseConfig)))
		if err != nil {
			t.Fatalf("offline_mode = %s: %v", tt.value, err)
		}
		if cfg.Send.OfflineMode.Mode != tt.want || cfg.Send.OfflineMode.Offline24() != (tt.want != "") {
			t.Errorf("offline_mode = %s: mode %q, want %q", tt.value, cfg.Send.OfflineMode.Mode, tt.want)
		}
	}
	ps := loadProblems(t, add("[send]", `offline_mode = "offline7"`)(baseConfig))
	found := false
	for _, p := range ps {
		found = found || (p.Key == "send.offline_mode" && regexp.MustCompile(`"offline7" is not a mode`).MatchString(p.Msg))
	}
	if !found {
		t.Errorf("problems = %v, want send.offline_mode naming \"offline7\"", ps)
	}
}
