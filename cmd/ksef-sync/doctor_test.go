package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim/simtest"
	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

// startSim runs the real simulator on loopback for one test.
func startSim(t testing.TB, opts ksefsim.Options) *ksefsim.Server {
	t.Helper()
	if opts.DefaultNIP == "" {
		opts.DefaultNIP = opNIP
	}
	return simtest.Start(t, opts)
}

// simWithDate serves the simulator behind a front that stamps every response with date, the way
// a server whose clock differs from ours would. It returns the API base URL.
func simWithDate(t *testing.T, sim *ksefsim.Server, date time.Time) string {
	t.Helper()
	h := sim.Handler()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", date.UTC().Format(http.TimeFormat))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front.URL + "/v2"
}

// company writes a config for url with the given [auth] body next to real folders; it returns
// the config path.
func company(t *testing.T, dir, url, auth, extra string) string {
	t.Helper()
	for _, d := range []string{"outbox", "sent", "error", "inbox"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return writeTestFile(t, dir, "config.toml", testConfig(url, opNIP, auth)+extra)
}

func tokenAuth(t *testing.T, dir, token string) string {
	writeTestFile(t, dir, "token.txt", token+"\n")
	return tokenFileAuth + "\n"
}

// certAuth writes a self-signed test certificate and key (encrypted when password is set; the
// password file then holds filePassword) and returns the [auth] body using them.
func certAuth(t *testing.T, dir string, opts xades.TestCertOptions, password, filePassword string) string {
	t.Helper()
	if opts.CommonName == "" {
		opts.CommonName = "Test Company " + opts.NIP
	}
	certPEM, keyPEM, err := xades.GenerateTestCertificate(opts)
	if err != nil {
		t.Fatal(err)
	}
	auth := "method = \"certificate\"\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n"
	if password != "" {
		if keyPEM, err = xades.EncryptPKCS8PEM(keyPEM, []byte(password)); err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, dir, "key-password.txt", filePassword+"\n")
		auth += "key_password_file = \"key-password.txt\"\n"
	}
	writeTestFile(t, dir, "cert.pem", string(certPEM))
	writeTestFile(t, dir, "key.pem", string(keyPEM))
	return auth
}

func validCert(nip, keyType string) xades.TestCertOptions {
	now := time.Now()
	return xades.TestCertOptions{NIP: nip, KeyType: keyType, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0)}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}

// doctorReport runs doctor's checks in-process on the configuration at path, as at now, and returns
// its exit code and report.
func doctorReport(path string, now time.Time) (int, string) {
	var b strings.Builder
	code := printFindings(&b, runDoctor(context.Background(), path, now))
	return code, b.String()
}

// doctorFailures parses the report into "[FAIL] line" → "fix: line".
func doctorFailures(out string) map[string]string {
	lines := strings.Split(out, "\n")
	fails := map[string]string{}
	for i, l := range lines {
		if strings.HasPrefix(l, "[FAIL] ") && i+1 < len(lines) {
			fails[l] = strings.TrimSpace(lines[i+1])
		}
	}
	return fails
}

func TestDoctorProblems(t *testing.T) {
	// Limits off: the parallel cases share one simulator, which would otherwise answer 429.
	sim := startSim(t, ksefsim.Options{RateLimits: "off"})
	goodToken := sim.Token(opNIP)
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the config path
		now     time.Time                             // zero: run through dispatch with the real clock
		check   string                                // start of the failing check's line
		problem string
		fix     string
	}{
		{"outbox missing", func(t *testing.T, dir string) string {
			p := company(t, dir, sim.URL(), tokenAuth(t, dir, goodToken), "")
			os.RemoveAll(filepath.Join(dir, "outbox"))
			return p
		}, time.Time{}, "[FAIL] folders.outbox", "the folder does not exist", "fix: create it, or correct folders.outbox"},
		{"a folder that is a file", func(t *testing.T, dir string) string {
			p := company(t, dir, sim.URL(), tokenAuth(t, dir, goodToken), "")
			os.RemoveAll(filepath.Join(dir, "sent"))
			writeTestFile(t, dir, "sent", "not a folder")
			return p
		}, time.Time{}, "[FAIL] folders.sent", "this is a file, not a folder", "fix: point folders.sent at a folder"},
		{"a folder inside a file", func(t *testing.T, dir string) string {
			p := company(t, dir, sim.URL(), tokenAuth(t, dir, goodToken), "")
			writeTestFile(t, dir, "blocker", "a file")
			editConfig(t, p, `error = "error"`, `error = "blocker/error"`)
			return p
		}, time.Time{}, "[FAIL] folders.error", "a file stands in the way", "fix: correct folders.error"},
		{"folder not writable", func(t *testing.T, dir string) string {
			if runtime.GOOS != "linux" {
				t.Skip("uses /proc, where not even root may create files")
			}
			p := company(t, dir, sim.URL(), tokenAuth(t, dir, goodToken), "[pull]\nenabled = true\n")
			editConfig(t, p, `inbox = "inbox"`, `inbox = "/proc"`)
			return p
		}, time.Time{}, "[FAIL] folders.inbox /proc", "cannot write here", "fix: grant the service account Modify rights"},
		{"state on a network share", func(t *testing.T, dir string) string {
			p := company(t, dir, sim.URL(), tokenAuth(t, dir, goodToken), "")
			editConfig(t, p, `state = "state"`, `state = "\\\\fileserver\\ksef\\state"`)
			return p
		}, time.Time{}, "[FAIL] config key folders.state", "is a network path: state must be on a local disk", "fix: edit folders.state in"},
		{"unknown config key", func(t *testing.T, dir string) string {
			return company(t, dir, sim.URL(), tokenAuth(t, dir, goodToken), "[send]\nmod = \"batch\"\n")
		}, time.Time{}, "[FAIL] config key send.mod", "did you mean send.mode?", "then run ksef-sync check-config"},
		{"DNS failure", func(t *testing.T, dir string) string {
			return company(t, dir, "http://nonexistent.invalid/v2", tokenAuth(t, dir, goodToken), "")
		}, time.Time{}, "[FAIL] DNS nonexistent.invalid", "nonexistent.invalid", "fix: check the server's DNS settings and ksef.url"},
		{"connection refused", func(t *testing.T, dir string) string {
			return company(t, dir, "http://"+closedPort(t)+"/v2", tokenAuth(t, dir, goodToken), "")
		}, time.Time{}, "[FAIL] connection to 127.0.0.1:", "connection refused", "fix: allow outgoing connections to 127.0.0.1:"},
		{"not a KSeF address", func(t *testing.T, dir string) string {
			return company(t, dir, strings.TrimSuffix(sim.URL(), "/v2")+"/v9", tokenAuth(t, dir, goodToken), "")
		}, time.Time{}, "[FAIL] KSeF answers", "HTTP 404", "fix: check ksef.url"},
		{"KSeF limits this address", func(t *testing.T, dir string) string {
			limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
			}))
			t.Cleanup(limited.Close)
			return company(t, dir, limited.URL+"/v2", tokenAuth(t, dir, goodToken), "")
		}, time.Time{}, "[FAIL] KSeF answers", "HTTP 429, retry after 30 s", "fix: another program (or ksef-sync itself) is using up the KSeF limits"},
		{"wrong token", func(t *testing.T, dir string) string {
			return company(t, dir, sim.URL(), tokenAuth(t, dir, "20261122-EC-0000000000-0000000000-00|nip-5265877635|"+strings.Repeat("0", 64)), "")
		}, time.Time{}, "[FAIL] login (token)", "KSeF code 450: the KSeF token is invalid", "fix: check token_file/token_env: generate a new KSeF token for NIP " + opNIP},
		{"expired certificate", func(t *testing.T, dir string) string {
			opts := xades.TestCertOptions{NIP: opNIP, KeyType: "rsa",
				NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)}
			return company(t, dir, sim.URL(), certAuth(t, dir, opts, "", ""), "")
		}, time.Time{}, "[FAIL] login (certificate)", "KSeF code 21115: certificate expired on 2025-06-30", "fix: check cert_file/key_file/p12_file"},
		{"expired certificate: credentials", func(t *testing.T, dir string) string {
			opts := xades.TestCertOptions{NIP: opNIP, KeyType: "ecdsa",
				NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)}
			return company(t, dir, sim.URL(), certAuth(t, dir, opts, "", ""), "")
		}, time.Time{}, "[FAIL] credentials", "expired on 2025-06-30", "fix: request a new KSeF certificate"},
		{"NIP in certificate differs", func(t *testing.T, dir string) string {
			return company(t, dir, sim.URL(), certAuth(t, dir, validCert("1111111111", "rsa"), "", ""), "")
		}, time.Time{}, "[FAIL] login (certificate)", "KSeF code 415: NIP in certificate (1111111111) differs from [ksef] nip (" + opNIP + ")", "belongs to NIP " + opNIP},
		{"wrong key password", func(t *testing.T, dir string) string {
			return company(t, dir, sim.URL(), certAuth(t, dir, validCert(opNIP, "ecdsa"), "right-PW-123", "wrong-PW-456"), "")
		}, time.Time{}, "[FAIL] login (certificate)", "wrong key password", "fix: check cert_file/key_file/p12_file, the key password"},
		{"clock skew", func(t *testing.T, dir string) string {
			url := simWithDate(t, sim, time.Now().Add(-7*time.Minute))
			return company(t, dir, url, tokenAuth(t, dir, goodToken), "")
		}, time.Time{}, "[FAIL] clock", "this computer's clock differs from KSeF's by 7m", "fix: synchronise the clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := tt.setup(t, dir)
			var code int
			var out string
			if tt.now.IsZero() {
				code, out, _ = runCLI(t, "", nil, "doctor", "-config", path)
			} else {
				code, out = doctorReport(path, tt.now)
			}
			if code != exitFatal {
				t.Errorf("exit %d, want %d", code, exitFatal)
			}
			fails := doctorFailures(out)
			for line, fix := range fails {
				if strings.HasPrefix(line, tt.check) && strings.Contains(line, tt.problem) {
					if !strings.Contains(fix, tt.fix) {
						t.Errorf("fix line %q lacks %q", fix, tt.fix)
					}
					return
				}
			}
			t.Errorf("no %q line with %q in:\n%s", tt.check, tt.problem, out)
		})
	}
}

// TestDoctorTokenDeadlineIsAWarning: the end of KSeF tokens is announced, not certain (the Ministry
// has proposed keeping them), and token login goes on while KSeF accepts the token. So within the
// last month before auth.token_deadline, and after it, doctor warns and names the fix, with exit 0
// while the login itself works.
func TestDoctorTokenDeadlineIsAWarning(t *testing.T) {
	sim := startSim(t, ksefsim.Options{RateLimits: "off"})
	tests := []struct {
		name string
		now  time.Time
		want string
	}{
		{"a month before", time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC), "[WARN] credentials: KSeF tokens are announced to stop on 2027-01-01 (22 days left)"},
		{"after the day", time.Date(2027, 1, 2, 9, 0, 0, 0, time.UTC), "[WARN] credentials: KSeF tokens were announced to stop on 2027-01-01; token login goes on while KSeF accepts the token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := company(t, dir, simWithDate(t, sim, tt.now), tokenAuth(t, dir, sim.Token(opNIP)), "")
			code, out := doctorReport(path, tt.now)
			if code != exitOK || strings.Contains(out, "[FAIL]") {
				t.Fatalf("exit %d, want %d without a failure:\n%s", code, exitOK, out)
			}
			for _, want := range []string{tt.want, "fix: switch to certificate login: [auth] method = \"certificate\"",
				"[ OK ] login (token): succeeded", "Everything works; 1 warning(s) above."} {
				if !strings.Contains(out, want) {
					t.Errorf("missing %q in:\n%s", want, out)
				}
			}
		})
	}
}

// A healthy company passes every check, and the limits line is what the simulator reported
// (scaled here so the production defaults cannot pass by accident).
func TestDoctorHealthy(t *testing.T) {
	sim := startSim(t, ksefsim.Options{RateLimits: "scaled", RateScale: 2})
	t.Run("certificate through the command", func(t *testing.T) {
		dir := t.TempDir()
		path := company(t, dir, sim.URL(), certAuth(t, dir, validCert(opNIP, "ecdsa"), "pw-Secret-1", "pw-Secret-1"), "")
		code, out, errOut := runCLI(t, "", nil, "doctor", "-config", path)
		if code != exitOK {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		assertHealthy(t, out, "[ OK ] login (certificate): succeeded")
		if strings.Contains(out, "pw-Secret-1") {
			t.Error("the key password appears in the report")
		}
	})
	t.Run("token with a fixed clock", func(t *testing.T) {
		now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		dir := t.TempDir()
		path := company(t, dir, simWithDate(t, sim, now.Add(20*time.Second)), tokenAuth(t, dir, sim.Token(opNIP)), "")
		code, out := doctorReport(path, now)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, out)
		}
		assertHealthy(t, out, "[ OK ] login (token): succeeded", "[ OK ] clock: within 20s of KSeF",
			"[ OK ] credentials: KSeF token valid until 2027-01-01 (214 days left)",
			"[ OK ] folders.state "+filepath.Join(dir, "state")+": does not exist yet")
	})
}

func assertHealthy(t *testing.T, out string, want ...string) {
	t.Helper()
	want = append(want, "[ OK ] config ", "[ OK ] folders.outbox ", "[ OK ] folders.sent ", "[ OK ] folders.error ",
		"[ OK ] folders.state ", "[ OK ] DNS 127.0.0.1", "[ OK ] TLS: plain HTTP", "[ OK ] clock: within",
		"[ OK ] rate limits: KSeF reports invoiceSend 20/s 60/min 360/h, batchSession 40/min",
		"[ OK ] session limits: KSeF accepts invoices of up to 1000000 bytes (3000000 with an attachment) and 10000 invoices per batch session in this context",
		"[ OK ] credentials: ",
		"\nEverything looks right.\n")
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("missing %q in:\n%s", w, out)
		}
	}
	if strings.Contains(out, "[FAIL]") {
		t.Errorf("unexpected failure:\n%s", out)
	}
}

func TestDoctorNetworkShareDetection(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{`\\fileserver\ksef\state`, true},
		{"//fileserver/ksef/state", true},
		{t.TempDir(), false},
	}
	for _, tt := range tests {
		if got, kind := onNetworkShare(tt.path); got != tt.want {
			t.Errorf("onNetworkShare(%q) = %v (%s), want %v", tt.path, got, kind, tt.want)
		}
	}
}
