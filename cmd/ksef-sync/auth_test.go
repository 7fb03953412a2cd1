package main

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf16"

	"github.com/ksef-sync/ksef-sync/internal/config"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

func TestAuthCheck(t *testing.T) {
	sim := startSim(t, ksefsim.Options{RateLimits: "off"})
	expired := xades.TestCertOptions{NIP: opNIP, KeyType: "rsa",
		NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)}
	wrongToken := "20261122-EC-0000000000-0000000000-00|nip-" + opNIP + "|" + strings.Repeat("0", 64)
	tests := []struct {
		name     string
		auth     func(t *testing.T, dir string) string
		wantCode int
		want     []string // in stdout on success, in stderr on failure
	}{
		{"token", func(t *testing.T, dir string) string { return tokenAuth(t, dir, sim.Token(opNIP)) },
			exitOK, []string{"login OK\n", "method: token\n", "context NIP: " + opNIP, "access token valid until: "}},
		{"certificate RSA", func(t *testing.T, dir string) string { return certAuth(t, dir, validCert(opNIP, "rsa"), "", "") },
			exitOK, []string{"login OK\n", "method: certificate\n", "certificate: Test Company " + opNIP + ", valid until "}},
		{"certificate ECDSA with encrypted key", func(t *testing.T, dir string) string {
			return certAuth(t, dir, validCert(opNIP, "ecdsa"), "Key-PW-789", "Key-PW-789")
		}, exitOK, []string{"login OK\n", "method: certificate\n"}},
		{"wrong token", func(t *testing.T, dir string) string { return tokenAuth(t, dir, wrongToken) },
			exitFatal, []string{"login FAILED: KSeF code 450: the KSeF token is invalid, revoked, inactive or belongs to another NIP"}},
		{"expired certificate", func(t *testing.T, dir string) string { return certAuth(t, dir, expired, "", "") },
			exitFatal, []string{"login FAILED: KSeF code 21115: certificate expired on 2025-06-30: request a new KSeF certificate"}},
		{"NIP in certificate differs", func(t *testing.T, dir string) string {
			return certAuth(t, dir, validCert("1111111111", "ecdsa"), "", "")
		},
			exitFatal, []string{"login FAILED: KSeF code 415: NIP in certificate (1111111111) differs from [ksef] nip (" + opNIP + ")"}},
		{"wrong key password", func(t *testing.T, dir string) string {
			return certAuth(t, dir, validCert(opNIP, "rsa"), "Key-PW-789", "Key-PW-000")
		}, exitFatal, []string{"login FAILED: wrong key password", "key_password_env / key_password_file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := company(t, dir, sim.URL(), tt.auth(t, dir), "")
			code, out, errOut := runCLI(t, "", nil, "auth", "check", "-config", path)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			got := out
			if code != exitOK {
				got = errOut
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, got)
				}
			}
			for _, secret := range []string{"Key-PW-789", "Key-PW-000", sim.Token(opNIP), wrongToken} {
				if strings.Contains(out+errOut, secret) {
					t.Errorf("a secret appears in the output:\n%s%s", out, errOut)
				}
			}
		})
	}
}

// cert gen-test writes files that then log in, end to end through the command line.
func TestAuthCertGenTestLogsIn(t *testing.T) {
	sim := startSim(t, ksefsim.Options{})
	for _, keyType := range []string{"rsa", "ecdsa"} {
		t.Run(keyType, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			code, out, errOut := runCLI(t, "", nil, "cert", "gen-test", "-nip", opNIP, "-out", dir+"/secrets", "-key", keyType)
			if code != exitOK {
				t.Fatalf("gen-test exit %d: %s", code, errOut)
			}
			_, snippet, ok := strings.Cut(out, "put this in your config:\n\n")
			if !ok || !strings.HasPrefix(snippet, "[auth]\n") {
				t.Fatalf("no config snippet in:\n%s", out)
			}
			path := company(t, dir, sim.URL(), strings.TrimPrefix(snippet, "[auth]\n"), "")
			code, out, errOut = runCLI(t, "", nil, "auth", "check", "-config", path)
			if code != exitOK || !strings.Contains(out, "login OK") || !strings.Contains(out, "certificate: ksef-sync test "+opNIP) {
				t.Fatalf("auth check exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
		})
	}
}

func TestAuthUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"auth"}, "usage: ksef-sync auth check"},
		{[]string{"auth", "login"}, "usage: ksef-sync auth check"},
		{[]string{"cert"}, "usage: ksef-sync cert gen-test"},
		{[]string{"cert", "gen-test", "-nip", "123"}, "-nip must be the 10-digit NIP"},
	}
	for _, tt := range tests {
		code, _, errOut := runCLI(t, "", nil, tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d stderr %q, want %d and %q", tt.args, code, errOut, exitUsage, tt.want)
		}
	}
}

// auth.token_deadline moves the warning with it.
func TestTokenDeadlineConfigured(t *testing.T) {
	cfg := &config.Config{Auth: config.Auth{Method: "token", TokenDeadline: "2027-07-01"}}
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if warnTokenDeadline(cfg, log, time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("warned half a year early: %s", logs.String())
	}
	if !warnTokenDeadline(cfg, log, time.Date(2027, 6, 20, 0, 0, 0, 0, time.UTC)) || !strings.Contains(logs.String(), "stop working on 2027-07-01 (in 11 days") {
		t.Fatalf("no warning before the configured day: %s", logs.String())
	}
}

func TestTokenDeadlineWarning(t *testing.T) {
	tests := []struct {
		name   string
		method string
		now    time.Time
		want   string // "" = nothing logged
	}{
		{"a day before December (Warsaw)", "token", time.Date(2026, 11, 30, 22, 59, 59, 0, time.UTC), ""},
		{"first of December", "token", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
			`level=WARN msg="KSeF tokens are announced to stop working on 2027-01-01 (in 31 days, auth.token_deadline): switch [auth] method to \"certificate\"`},
		{"last day", "token", time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC),
			`level=WARN msg="KSeF tokens are announced to stop working on 2027-01-01 (tomorrow, auth.token_deadline): switch [auth] method to \"certificate\"`},
		// after the day, token login goes on while KSeF accepts it: no daily error
		{"after the deadline", "token", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"long after the deadline", "token", time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), ""},
		{"certificate login in December", "certificate", time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC), ""},
		{"certificate login after the deadline", "certificate", time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			cfg := &config.Config{Auth: config.Auth{Method: tt.method}}
			warned := warnTokenDeadline(cfg, slog.New(slog.NewTextHandler(&logs, nil)), tt.now)
			if warned != (tt.want != "") {
				t.Errorf("warned = %v", warned)
			}
			if tt.want == "" {
				if logs.Len() != 0 {
					t.Errorf("unexpected log: %s", logs.String())
				}
				return
			}
			if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), tt.want) {
				t.Errorf("%d line(s):\n%s\nwant one with %s", n, logs.String(), tt.want)
			}
		})
	}
}

// While the daemon runs, the warning repeats once a day from December on.
func TestTokenDeadlineDailyWarning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sleepUntil(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
		var logs strings.Builder
		log := slog.New(slog.NewTextHandler(&logs, nil))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			dailyTokenWarning(ctx, &config.Config{Auth: config.Auth{Method: "token"}}, log)
		}()
		time.Sleep(4*24*time.Hour + time.Minute) // ticks on Nov 30, Dec 1, Dec 2, Dec 3 at noon
		cancel()
		<-done
		if got := strings.Count(logs.String(), "KSeF tokens are announced to stop working on 2027-01-01"); got != 3 {
			t.Errorf("%d warnings, want 3 (Dec 1, 2, 3):\n%s", got, logs.String())
		}
		for _, days := range []string{"in 31 days", "in 30 days", "in 29 days"} {
			if !strings.Contains(logs.String(), days) {
				t.Errorf("no warning %q:\n%s", days, logs.String())
			}
		}
	})
}

// Token files as Windows tools write them log in (real binary): Notepad's UTF-8 BOM, PowerShell
// 5.1's UTF-16 LE with BOM, a trailing line break. check-config says what is wrong with a bad one.
func TestTokenFilesFromWindowsTools(t *testing.T) {
	sim := startSim(t, ksefsim.Options{RateLimits: "off"})
	tok := sim.Token(opNIP)
	utf16le := func(s string) []byte {
		out := []byte{0xFF, 0xFE}
		for _, u := range utf16.Encode([]rune(s)) {
			out = append(out, byte(u), byte(u>>8))
		}
		return out
	}
	good := map[string][]byte{
		"utf8-bom":  append([]byte{0xEF, 0xBB, 0xBF}, tok+"\r\n"...),
		"utf16-bom": utf16le(tok + "\r\n"),
		"spaces":    []byte("  " + tok + "  \n\n"),
	}
	for name, content := range good {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := company(t, dir, sim.URL(), tokenAuth(t, dir, "x"), "")
			writeTestFile(t, dir, "token.txt", string(content))
			for _, args := range [][]string{{"check-config", "-config", path}, {"auth", "check", "-config", path}} {
				out, err := exec.Command(binPath, args...).CombinedOutput()
				if err != nil {
					t.Fatalf("%v: %v\n%s", args, err, out)
				}
			}
		})
	}
	bad := map[string]struct{ content, want string }{
		"two tokens":  {tok + "\n" + tok + "\n", "auth.token_file: the token file holds more than one line"},
		"another NIP": {"20261122-EC-0123456789-ABCDEF0123-AB|nip-1111111111|abcdef\n", "generated in the context of NIP 1111111111 and works only there (KSeF binds a token to its context), but this login is for NIP " + opNIP},
		"empty":       {"\xEF\xBB\xBF\r\n", "the token file is empty"},
	}
	for name, tt := range bad {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := company(t, dir, sim.URL(), tokenAuth(t, dir, "x"), "")
			writeTestFile(t, dir, "token.txt", tt.content)
			out, err := exec.Command(binPath, "check-config", "-config", path).CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitFatal || !strings.Contains(string(out), tt.want) {
				t.Fatalf("check-config: %v\n%s\nwant exit %d with %q", err, out, exitFatal, tt.want)
			}
		})
	}
}

// `auth check` against a KSeF that does not answer says so in plain words (real binary).
func TestAuthCheckUnreachable(t *testing.T) {
	url := "http://" + closedPort(t) + "/v2"
	dir := t.TempDir()
	path := company(t, dir, url, tokenAuth(t, dir, "20261122-EC-0123456789-ABCDEF0123-AB|nip-"+opNIP+"|abcdef"), "")
	out, err := exec.Command(binPath, "auth", "check", "-config", path).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFatal {
		t.Fatalf("auth check: %v\n%s", err, out)
	}
	want := "KSeF at " + url + " does not answer (connection refused); queued invoices stay safe"
	if !strings.Contains(string(out), want) || strings.Contains(string(out), "dial tcp") {
		t.Fatalf("output:\n%s\nwant %q and no raw dial error", out, want)
	}
}

// TestAuthCheckLostLoginAnswers: KSeF issued a login's tokens and the answer was lost on the way (a
// gateway's 504). `auth check` still says the login works (ksef-sync logs in anew at once); when it
// happens twice in a row, it fails without blaming the credentials.
func TestAuthCheckLostLoginAnswers(t *testing.T) {
	sim := startSim(t, ksefsim.Options{RateLimits: "off"})
	dir := t.TempDir()
	path := company(t, dir, sim.URL(), tokenAuth(t, dir, sim.Token(opNIP)), "")
	check := func(lost int) (int, string) {
		t.Helper()
		if err := sim.LoseAnswers(ksefsim.LoseRedeem, lost, ksefsim.LoseBy504); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, "", nil, "auth", "check", "-config", path)
		return code, out + errOut
	}
	if code, out := check(1); code != exitOK || !strings.Contains(out, "login OK") {
		t.Fatalf("one lost answer: exit %d\n%s", code, out)
	}
	code, out := check(2)
	if code != exitFatal || !strings.Contains(out, "KSeF code 21301: KSeF would not issue the login's tokens, twice in a row") ||
		!strings.Contains(out, "this is not about the credentials") || strings.Contains(out, "new token") {
		t.Fatalf("two lost answers: exit %d\n%s\nwant a failure that does not blame the credentials", code, out)
	}
}
