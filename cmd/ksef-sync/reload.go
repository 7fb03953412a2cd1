package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/config"
)

// liveKeys can change while the daemon runs; every other change waits for a restart.
var liveKeys = map[string]bool{
	"log.level": true,
	"send.mode": true, "send.gather_window": true, "send.batch_threshold": true, "send.max_batch_invoices": true,
	"send.batch_part_size": true, "send.compression": true, "send.session_idle_close": true,
	"send.poll_interval": true, "send.max_invoice_size": true, "send.offline_mode": true, "send.send_timeout": true,
	"send.spool_retention_days": true,
}

// changedKeys lists the config keys ("section.key") whose values differ.
func changedKeys(old, cur *config.Config) []string {
	var out []string
	ov, cv := reflect.ValueOf(old).Elem(), reflect.ValueOf(cur).Elem()
	for i := range ov.NumField() {
		sec := ov.Type().Field(i)
		secName := tomlName(sec)
		if secName == "" || sec.Type.Kind() != reflect.Struct {
			continue
		}
		for j := range sec.Type.NumField() {
			f := sec.Type.Field(j)
			name := tomlName(f)
			if name == "" {
				continue
			}
			if !reflect.DeepEqual(ov.Field(i).Field(j).Interface(), cv.Field(i).Field(j).Interface()) {
				out = append(out, secName+"."+name)
			}
		}
	}
	return out
}

func tomlName(f reflect.StructField) string {
	tag := strings.Split(f.Tag.Get("toml"), ",")[0]
	if tag == "-" {
		return ""
	}
	return tag
}

// reloader re-reads the config on SIGHUP or when the file changes, applies what is safe live, and
// reports what needs a restart. A config with problems is rejected and the running one kept.
type reloader struct {
	path    string
	current *config.Config
	log     *slog.Logger
	apply   func(*config.Config)
	// companies, when set (a many-company daemon), receives every configuration that loads: it
	// starts, restarts and stops companies itself (fleet.apply).
	companies func(*config.Config)
	stamp     string // what the file and companies_dir looked like at the last reload
}

// stampOf sums up the configuration file and the files of companies_dir (names, sizes, times), so
// adding, changing or removing a company file triggers a reload like editing the file does.
func stampOf(path string, cur *config.Config) string {
	var b strings.Builder
	b.WriteString(fileModTime(path).String())
	if cur == nil || cur.CompaniesDir == "" {
		return b.String()
	}
	des, _ := os.ReadDir(cur.CompaniesDir)
	for _, de := range des {
		if info, err := de.Info(); err == nil && strings.HasSuffix(de.Name(), ".toml") {
			fmt.Fprintf(&b, "|%s %d %s", de.Name(), info.Size(), info.ModTime())
		}
	}
	return b.String()
}

func (r *reloader) run(ctx context.Context, every time.Duration) {
	hup := make(chan os.Signal, 1)
	notifyHUP(hup)
	defer signal.Stop(hup)
	r.stamp = stampOf(r.path, r.current)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload("SIGHUP")
		case <-tick.C:
			if st := stampOf(r.path, r.current); st != r.stamp {
				r.stamp = st
				r.reload("config file changed")
			}
		}
	}
}

func (r *reloader) reload(why string) {
	cur, err := config.Load(r.path)
	if err != nil {
		r.log.Error("config reload rejected; the running configuration stays in force", "reason", why, "err", err)
		return
	}
	if r.companies != nil {
		r.companies(cur)
	}
	changed := changedKeys(r.current, cur)
	if cur.MultiCompany() {
		changed = slices.DeleteFunc(changed, perCompanyKey) // fleet.apply restarts the companies concerned
	}
	if len(changed) == 0 {
		msg := "config reloaded: nothing changed"
		if r.companies != nil {
			// Company tables and files were applied above, each logged on its own line.
			msg = "config reloaded: no service-wide key changed"
		}
		r.log.Info(msg, "reason", why)
		return
	}
	var live, restart []string
	for _, k := range changed {
		if liveKeys[k] {
			live = append(live, k)
		} else {
			restart = append(restart, k)
		}
	}
	if len(live) > 0 {
		r.apply(cur)
		r.log.Info("config reloaded: applied live", "reason", why, "keys", strings.Join(live, ","))
	}
	if len(restart) > 0 {
		r.log.Warn(fmt.Sprintf("config changes need a restart to take effect (ksef-sync restart): %s", strings.Join(restart, ", ")), "reason", why)
	}
	r.current = mergeLive(r.current, cur)
}

// perCompanyKey: with many companies these sections are every company's defaults, applied by
// restarting the companies they change.
func perCompanyKey(k string) bool {
	for _, p := range []string{"folders.", "send.", "pull.", "auth."} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// mergeLive returns the configuration now in force: the new live sections, the old rest.
func mergeLive(old, cur *config.Config) *config.Config {
	next := *old
	next.CompaniesDir = cur.CompaniesDir
	next.Send = cur.Send
	next.Log.Level = cur.Log.Level
	return &next
}

func fileModTime(path string) time.Time {
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}
