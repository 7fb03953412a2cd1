package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestServiceConfigBakesAbsolutePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	sc, err := serviceConfig(filepath.Join("conf", "config.toml"), `CORP\ksef-svc`, "Svc-PW-1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"run", "-config", filepath.Join(dir, "conf", "config.toml")}
	if diff := cmp.Diff(want, sc.Arguments); diff != "" {
		t.Errorf("arguments (-want +got):\n%s", diff)
	}
	if !filepath.IsAbs(sc.Arguments[2]) {
		t.Errorf("config path %q is not absolute", sc.Arguments[2])
	}
	for key, want := range map[string]any{"Restart": "on-failure", "OnFailure": "restart", "StartType": "automatic", "Password": "Svc-PW-1"} {
		if got := sc.Option[key]; got != want {
			t.Errorf("option %s = %v, want %v", key, got, want)
		}
	}
	if sc.UserName != `CORP\ksef-svc` || sc.Name != "ksef-sync" {
		t.Errorf("user %q name %q", sc.UserName, sc.Name)
	}
	if slices.ContainsFunc(sc.Arguments, func(a string) bool { return strings.Contains(a, "Svc-PW-1") }) {
		t.Error("the password is on the service's command line")
	}

	sc, err = serviceConfig(filepath.Join(dir, "config.toml"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sc.Option["Password"]; ok || sc.UserName != "" {
		t.Errorf("no account given, yet user %q options %v", sc.UserName, sc.Option)
	}
}

// On Windows every dependency becomes DependOnService, and a service whose dependency does not
// exist never starts (error 1075): systemd's ordering lines belong to the systemd unit only.
func TestServiceDependenciesPerPlatform(t *testing.T) {
	sc, err := serviceConfig(filepath.Join(t.TempDir(), "config.toml"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" {
		if len(sc.Dependencies) != 0 {
			t.Errorf("Windows service dependencies %q: the service control manager would refuse to start it", sc.Dependencies)
		}
		return
	}
	for _, dep := range []string{"After=network-online.target", "Wants=network-online.target"} {
		if !slices.Contains(sc.Dependencies, dep) {
			t.Errorf("dependencies %v lack %s", sc.Dependencies, dep)
		}
	}
}

func TestServicePassword(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "KSEF_SYNC_SERVICE_PASSWORD" {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name, action, user, envPW, stdin string
		want                             string
		wantErr                          bool
		wantPrompt                       bool
	}{
		{"from the environment", "install", "svc", "Env-PW-1", "Stdin-PW-1\n", "Env-PW-1", false, false},
		{"from stdin", "install", "svc", "", "Stdin-PW-1\r\n", "Stdin-PW-1", false, true},
		{"stdin without newline", "install", "svc", "", "Stdin-PW-1", "Stdin-PW-1", false, true},
		{"nothing given", "install", "svc", "", "", "", true, true},
		{"no account: no password", "install", "", "", "Stdin-PW-1\n", "", false, false},
		{"other actions never ask", "start", "svc", "", "Stdin-PW-1\n", "", false, false},
	}
	if runtime.GOOS != "windows" {
		// systemd's User= needs no password: install -user never asks for one.
		for i := range tests {
			tests[i].want, tests[i].wantErr, tests[i].wantPrompt = "", false, false
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errb strings.Builder
			e := &cliEnv{stdout: &strings.Builder{}, stderr: &errb, stdin: strings.NewReader(tt.stdin), getenv: env(tt.envPW)}
			got, err := servicePassword(e, tt.action, tt.user)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
			if prompted := strings.Contains(errb.String(), "Password for svc"); prompted != tt.wantPrompt {
				t.Errorf("prompted %v, want %v (stderr %q)", prompted, tt.wantPrompt, errb.String())
			}
			if strings.Contains(errb.String(), "PW-1") {
				t.Errorf("the password was echoed: %q", errb.String())
			}
		})
	}
}

// The password must never be a flag: other users can read a process's argv.
func TestServiceInstallRefusesPasswordFlagAndBadConfig(t *testing.T) {
	code, _, errOut := runCLI(t, "", nil, "install", "-user", "svc", "-password", "Argv-PW-1")
	if code != exitUsage || !strings.Contains(errOut, "flag provided but not defined: -password") {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
	path := writeTestFile(t, t.TempDir(), "config.toml", "[ksef]\nenvironment = \"prod\"\n")
	code, _, errOut = runCLI(t, "", nil, "install", "-config", path)
	if code != exitFatal || !strings.Contains(errOut, "fix the configuration before installing") {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
}

func TestServiceUserOnlyWhereHonoured(t *testing.T) {
	for platform, want := range map[string]bool{
		"linux-systemd": true, "linux-upstart": true,
		"unix-systemv": false, "linux-openrc": false, "linux-rcs": false, "linux-procd": false,
	} {
		if runtime.GOOS == "windows" {
			want = true // the service control manager runs a service as any account
		}
		if got := serviceUserSupported(platform); got != want {
			t.Errorf("serviceUserSupported(%q) = %v, want %v", platform, got, want)
		}
	}
}

// kardianos/service's SysV uninstall removes /etc/init.d/ksef-sync and leaves its rc?.d links
// dangling; uninstall removes them, and nothing else.
func TestServiceUninstallRemovesRCLinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SysV init on Windows")
	}
	root := t.TempDir()
	script := writeTestFile(t, filepath.Join(root, "etc", "init.d"), "ksef-sync", "#!/bin/sh\n")
	var want []string
	for _, l := range []string{"rc0.d/K02ksef-sync", "rc2.d/S50ksef-sync", "rc5.d/S50ksef-sync", "rc6.d/K02ksef-sync"} {
		p := filepath.Join(root, "etc", l)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(script, p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	keep := []string{
		writeTestFile(t, filepath.Join(root, "etc", "rc3.d"), "S50ksef-sync", "a real script, not our link"),
		filepath.Join(root, "etc", "rc2.d", "S01other"),
	}
	if err := os.Symlink(script, keep[1]); err != nil {
		t.Fatal(err)
	}
	removed, err := removeRCLinks(root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	for _, p := range want {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
	for _, p := range keep {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}

// start and restart watch the daemon for a few seconds: one that dies at once is reported,
// not "done".
func TestServiceStartConfirmsRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		probes := 0
		alive := func() (bool, string) { probes++; return true, "running" }
		start := time.Now()
		if err := confirmRunning(t.Context(), alive, startChecks, time.Second); err != nil {
			t.Errorf("a running daemon: %v", err)
		}
		if probes != startChecks || time.Since(start) != startChecks*time.Second {
			t.Errorf("%d probes over %s, want %d over %ds", probes, time.Since(start), startChecks, startChecks)
		}

		probes = 0
		diesAfterOne := func() (bool, string) {
			probes++
			if probes > 1 {
				return false, "ActiveState=activating SubState=auto-restart"
			}
			return true, "running"
		}
		err := confirmRunning(t.Context(), diesAfterOne, startChecks, time.Second)
		if err == nil || !strings.Contains(err.Error(), "not running (ActiveState=activating SubState=auto-restart)") {
			t.Errorf("a daemon that died: %v", err)
		}
		if probes != 2 {
			t.Errorf("%d probes, want it to stop at the first failed one", probes)
		}

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := confirmRunning(ctx, alive, startChecks, time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: %v", err)
		}
	})
}

func TestServiceDefaultConfigPath(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Linux path")
	}
	if got := defaultConfigPath(); got != "/etc/ksef-sync/config.toml" {
		t.Errorf("defaultConfigPath() = %q", got)
	}
}

func TestServiceProgramStartStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		running := make(chan struct{})
		p := &program{body: func(ctx context.Context) error {
			close(running)
			<-ctx.Done()
			return ctx.Err()
		}, onFail: func(err error) { t.Errorf("onFail(%v) on a requested stop", err) }}
		if err := p.Stop(nil); err != nil {
			t.Errorf("Stop before Start: %v", err)
		}
		start := time.Now()
		if err := p.Start(nil); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 {
			t.Error("Start did not return at once")
		}
		<-running
		synctest.Wait()
		if err := p.Start(nil); err == nil {
			t.Error("a second Start succeeded")
		}
		if err := p.Stop(nil); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if time.Since(start) != 0 {
			t.Errorf("Stop waited %s for a body that stops at once", time.Since(start))
		}
		if err := p.Stop(nil); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	})
}

func TestServiceProgramStopTimeout(t *testing.T) {
	old := stopTimeout
	stopTimeout = 3 * time.Second
	t.Cleanup(func() { stopTimeout = old })
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		p := &program{body: func(ctx context.Context) error {
			<-release // ignores cancellation
			return nil
		}}
		if err := p.Start(nil); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := p.Stop(nil)
		if err == nil || !strings.Contains(err.Error(), "did not finish within 3s") {
			t.Errorf("Stop = %v, want a timeout error", err)
		}
		if waited := time.Since(start); waited != stopTimeout {
			t.Errorf("Stop returned after %s, want %s", waited, stopTimeout)
		}
		close(release)
	})
}

func TestServiceProgramBodyErrors(t *testing.T) {
	tests := []struct {
		name     string
		body     func(ctx context.Context) error
		stop     bool   // Stop the program (a requested stop must not call onFail)
		wantFail string // "" = onFail must not be called
		wantStop string // error Stop returns
	}{
		{"fatal error calls onFail", func(context.Context) error { return errors.New("journal is corrupt") }, false, "journal is corrupt", ""},
		{"unexpected clean exit calls onFail", func(context.Context) error { return nil }, false, "stopped without being asked", ""},
		{"error while stopping is returned by Stop", func(ctx context.Context) error {
			<-ctx.Done()
			return errors.New("close journal: disk full")
		}, true, "", "close journal: disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var failed error
				p := &program{body: tt.body, onFail: func(err error) { failed = err }}
				if err := p.Start(nil); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				var stopErr error
				if tt.stop {
					stopErr = p.Stop(nil)
				} else {
					<-p.done
				}
				if got := errString(failed); !strings.Contains(got, tt.wantFail) || (tt.wantFail == "") != (got == "") {
					t.Errorf("onFail got %q, want %q", got, tt.wantFail)
				}
				if got := errString(stopErr); got != tt.wantStop {
					t.Errorf("Stop = %q, want %q", got, tt.wantStop)
				}
			})
		})
	}
	if err := (&program{}).Start(nil); err == nil {
		t.Error("Start without a body succeeded")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
