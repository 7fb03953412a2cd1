package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

const reloadBase = `[ksef]
environment = "test"
nip = "5265877635"
[auth]
token_file = "token.txt"
[folders]
outbox = "outbox"
sent = "sent"
error = "error"
state = "state"
[send]
poll_interval = "2s"
gather_window = "2s"
[log]
level = "info"
`

// reloadFixture is a config file on disk and a reloader over it that records what it applies.
type reloadFixture struct {
	path    string
	r       *reloader
	logs    *strings.Builder
	applied []*config.Config
}

func newReloadFixture(t *testing.T) *reloadFixture {
	t.Helper()
	dir := t.TempDir()
	writeTestFile(t, dir, "token.txt", "tok")
	f := &reloadFixture{path: writeTestFile(t, dir, "config.toml", reloadBase), logs: &strings.Builder{}}
	cfg, err := config.Load(f.path)
	if err != nil {
		t.Fatal(err)
	}
	f.r = &reloader{path: f.path, current: cfg, log: slog.New(slog.NewTextHandler(f.logs, nil)),
		apply: func(c *config.Config) { f.applied = append(f.applied, c) }}
	return f
}

// edit rewrites the config with one replacement and gives it a new modification time.
func (f *reloadFixture) edit(t *testing.T, old, new string) {
	t.Helper()
	data := testutil.ReplaceOnce(t, testutil.ReadFile(t, f.path), old, new)
	if err := os.WriteFile(f.path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	mt := fileModTime(f.path).Add(time.Second)
	if err := os.Chtimes(f.path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func TestReloadChangedKeys(t *testing.T) {
	base := config.Defaults()
	tests := []struct {
		name   string
		change func(c *config.Config)
		want   []string
	}{
		{"nothing", func(*config.Config) {}, nil},
		{"log level", func(c *config.Config) { c.Log.Level = "debug" }, []string{"log.level"}},
		{"durations and lists", func(c *config.Config) {
			c.Send.PollInterval.Duration = time.Minute
			c.Watch.Patterns = []string{"*.xml", "*.XML"}
		}, []string{"send.poll_interval", "watch.patterns"}},
		{"folders and credentials", func(c *config.Config) {
			c.Folders.Outbox = "/elsewhere"
			c.Auth.TokenFile = "/other-token"
			c.KSeF.NIP = "1111111111"
		}, []string{"ksef.nip", "auth.token_file", "folders.outbox"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := config.Defaults()
			cur.Watch.Patterns = append([]string(nil), base.Watch.Patterns...)
			tt.change(&cur)
			if diff := cmp.Diff(tt.want, changedKeys(&base, &cur)); diff != "" {
				t.Errorf("changed keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReloadAppliesLiveKeys(t *testing.T) {
	f := newReloadFixture(t)
	f.edit(t, `level = "info"`, `level = "debug"`)
	f.edit(t, `poll_interval = "2s"`, `poll_interval = "750ms"`)
	f.r.reload("test")
	if len(f.applied) != 1 {
		t.Fatalf("apply called %d times, want 1", len(f.applied))
	}
	if got := f.applied[0]; got.Log.Level != "debug" || got.Send.PollInterval.Duration != 750*time.Millisecond {
		t.Errorf("applied level %q poll %s", got.Log.Level, got.Send.PollInterval)
	}
	if f.r.current.Log.Level != "debug" || f.r.current.Send.PollInterval.Duration != 750*time.Millisecond {
		t.Errorf("config in force not updated: %+v", f.r.current.Send)
	}
	if !strings.Contains(f.logs.String(), `msg="config reloaded: applied live"`) || !strings.Contains(f.logs.String(), "keys=send.poll_interval,log.level") {
		t.Errorf("log:\n%s", f.logs.String())
	}
	if strings.Contains(f.logs.String(), "restart") {
		t.Errorf("a live change was reported as needing a restart:\n%s", f.logs.String())
	}
}

func TestReloadRestartKeys(t *testing.T) {
	f := newReloadFixture(t)
	oldOutbox := f.r.current.Folders.Outbox
	f.edit(t, `outbox = "outbox"`, `outbox = "outbox2"`)
	f.edit(t, `gather_window = "2s"`, `gather_window = "5s"`)
	f.r.reload("SIGHUP")
	if len(f.applied) != 1 || f.applied[0].Send.GatherWindow.Duration != 5*time.Second {
		t.Fatalf("the live part was not applied: %d calls", len(f.applied))
	}
	if !strings.Contains(f.logs.String(), "config changes need a restart to take effect (ksef-sync restart): folders.outbox") {
		t.Errorf("log:\n%s", f.logs.String())
	}
	if f.r.current.Folders.Outbox != oldOutbox {
		t.Errorf("outbox in force changed to %s without a restart", f.r.current.Folders.Outbox)
	}
	// Still pending on the next reload: the admin is reminded until they restart.
	f.logs.Reset()
	f.r.reload("SIGHUP")
	if !strings.Contains(f.logs.String(), "need a restart") || len(f.applied) != 1 {
		t.Errorf("second reload: %d applies, log:\n%s", len(f.applied), f.logs.String())
	}
}

func TestReloadRejectsBrokenConfig(t *testing.T) {
	f := newReloadFixture(t)
	before := *f.r.current
	f.edit(t, `level = "info"`, `level = "loud"`)
	f.r.reload("config file changed")
	if len(f.applied) != 0 {
		t.Errorf("a broken config was applied")
	}
	if diff := cmp.Diff(before, *f.r.current, cmpopts.IgnoreUnexported(config.Config{})); diff != "" {
		t.Errorf("config in force changed (-before +after):\n%s", diff)
	}
	if !strings.Contains(f.logs.String(), "config reload rejected; the running configuration stays in force") ||
		!strings.Contains(f.logs.String(), "log.level") {
		t.Errorf("log:\n%s", f.logs.String())
	}
}

// The running loop notices a saved file by its modification time.
func TestReloadRunNoticesSavedFile(t *testing.T) {
	// Start the signal package's watcher outside the bubble: started inside, it would belong to
	// the bubble and never exit.
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	signal.Stop(c)

	f := newReloadFixture(t)
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			f.r.run(ctx, 5*time.Second)
		}()
		time.Sleep(6 * time.Second)
		synctest.Wait()
		if len(f.applied) != 0 {
			t.Fatalf("applied without a change")
		}
		f.edit(t, `level = "info"`, `level = "warn"`)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		cancel()
		<-done
		if len(f.applied) != 1 || f.applied[0].Log.Level != "warn" {
			t.Errorf("applied %d times; log:\n%s", len(f.applied), f.logs.String())
		}
	})
}

// A misspelt live key would silently turn a live change into "needs a restart".
func TestReloadLiveKeysAreConfigKeys(t *testing.T) {
	keys := exampleKeys(t, string(config.Example()))
	for k := range liveKeys {
		if !hasString(keys, k) {
			t.Errorf("liveKeys has %q, which is not a config key", k)
		}
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "send.") && !liveKeys[k] {
			t.Errorf("%s is not applied live", k)
		}
	}
}
