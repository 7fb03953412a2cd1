package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kardianos/service"
	"golang.org/x/term"

	"github.com/ksef-sync/ksef-sync/internal/config"
)

const serviceName = "ksef-sync"

// serviceConfig describes the system service. The config path is baked in as an absolute path
// because services start in C:\Windows\System32 or /.
func serviceConfig(cfgPath, user, password string) (*service.Config, error) {
	abs, err := filepath.Abs(cfgPath)
	if err != nil {
		return nil, err
	}
	opts := service.KeyValue{
		// Windows: start at boot, restart after a crash.
		"StartType":              "automatic",
		"OnFailure":              "restart",
		"OnFailureDelayDuration": "30s",
		"OnFailureResetPeriod":   86400,
		// systemd: restart after a crash, but not after `stop`.
		"Restart": "on-failure",
	}
	if password != "" {
		opts["Password"] = password
	}
	return &service.Config{
		Name:         serviceName,
		DisplayName:  "KSeF Sync",
		Description:  "Sends invoices from the ERP outbox to KSeF and collects KSeF numbers, UPOs and received invoices.",
		Arguments:    []string{"run", "-config", abs},
		UserName:     user,
		Dependencies: serviceDependencies(), // per platform: see paths_*.go
		Option:       opts,
	}, nil
}

// runAsService hands control to the service manager.
func runAsService(env *cliEnv, cfg *config.Config) int {
	prg := &program{}
	sc, err := serviceConfig(cfg.Path, "", "")
	if err != nil {
		return fail(env, exitFatal, err)
	}
	svc, err := service.New(prg, sc)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	if cfg.Log.File == "" {
		// A Windows service has no console: without a log file its log would be lost.
		cfg.Log.File = defaultServiceLogFile()
	}
	log, closeLog, err := newLogger(env, cfg)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	defer closeLog()
	sysLog, _ := svc.Logger(nil)
	prg.body = func(ctx context.Context) error { return daemon(ctx, cfg, log) }
	prg.onFail = func(err error) {
		if sysLog != nil {
			_ = sysLog.Errorf("ksef-sync stopped with an error: %v", err)
		}
		log.Error("ksef-sync stopped with an error; the service manager will restart it", "err", err)
		closeLog()
		os.Exit(exitFatal) // a fatal error outside Stop: exit so recovery actions restart us
	}
	if sysLog != nil {
		_ = sysLog.Info("ksef-sync service starting")
	}
	if err := svc.Run(); err != nil {
		if sysLog != nil {
			_ = sysLog.Errorf("ksef-sync service failed: %v", err)
		}
		return fail(env, exitFatal, err)
	}
	if sysLog != nil {
		_ = sysLog.Info("ksef-sync service stopped")
	}
	return exitOK
}

// cmdService implements install, uninstall, start, stop and restart, and says what really
// happened: the init system used, the account, whether the daemon still runs after a start.
func cmdService(ctx context.Context, env *cliEnv, args []string) int {
	action := args[0]
	fs, cfgPath := newFlags(env, action)
	user := new(string)
	if action == "install" {
		user = fs.String("user", "", "run the service as this account (for access to network shares)")
	} else {
		// The others act on the installed service by its name; -config is accepted for old scripts
		// but not offered, since the config is the one install baked into the service.
		hideFromHelp(fs, "config")
	}
	if err := parseArgs(fs, args[1:]); err != nil {
		return parseFailed(err)
	}
	if action == "install" {
		if _, code := loadConfig(env, *cfgPath); code != exitOK {
			fmt.Fprintln(env.stderr, "ksef-sync: fix the configuration before installing the service (ksef-sync check-config)")
			return code
		}
	}
	sc, err := serviceConfig(*cfgPath, *user, "")
	if err != nil {
		return fail(env, exitFatal, err)
	}
	svc, err := service.New(&program{}, sc)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	platform := svc.Platform()
	if *user != "" && !serviceUserSupported(platform) {
		return fail(env, exitUsage, fmt.Errorf("-user: this system's init (%s) would run the service as root whatever the account; "+
			"install without -user and run it under that account from your init system, or use systemd", platform))
	}
	password, err := servicePassword(env, action, *user)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	if password != "" {
		sc.Option["Password"] = password // the service holds the same map
	}
	if err := service.Control(svc, action); err != nil {
		return fail(env, exitFatal, fmt.Errorf("%s: %w", action, err))
	}
	switch action {
	case "install":
		as := "root"
		if runtime.GOOS == "windows" {
			as = "LocalSystem"
		}
		if *user != "" {
			as = *user
		}
		fmt.Fprintf(env.stdout, "service %s installed (%s), runs as %s\nconfig baked into the service: %s\nstart it with: ksef-sync start\n",
			serviceName, platform, as, sc.Arguments[2])
	case "start", "restart":
		if err := confirmRunning(ctx, func() (bool, string) { return probeService(svc) }, startChecks, time.Second); err != nil {
			return fail(env, exitFatal, fmt.Errorf("%s: %w; see %s", action, err, serviceLogHint(platform)))
		}
		fmt.Fprintf(env.stdout, "service %s: %s done, still running after %ds\n", serviceName, action, startChecks)
	case "uninstall":
		fmt.Fprintf(env.stdout, "service %s uninstalled (%s); the state folder and config are kept\n", serviceName, platform)
		if platform == "unix-systemv" {
			removed, err := removeRCLinks("/")
			for _, l := range removed {
				fmt.Fprintf(env.stdout, "removed %s\n", l)
			}
			if err != nil {
				return fail(env, exitFatal, fmt.Errorf("uninstall: %w", err))
			}
		}
	default:
		fmt.Fprintf(env.stdout, "service %s: %s done\n", serviceName, action)
	}
	return exitOK
}

// startChecks is how many seconds start and restart watch the daemon: one that dies at once
// (a state folder it cannot write, a config broken since install) shows within them.
const startChecks = 3

// confirmRunning asks probe every interval, checks times, and fails as soon as the daemon is not
// running: a start the service manager accepted is not yet a daemon that runs.
func confirmRunning(ctx context.Context, probe func() (bool, string), checks int, interval time.Duration) error {
	for range checks {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
		if ok, state := probe(); !ok {
			return fmt.Errorf("the service was started but is not running (%s)", state)
		}
	}
	return nil
}

// probeService reports whether the daemon runs. Under systemd it asks for the unit's state itself:
// kardianos/service calls a unit "running" while it is "activating (auto-restart)", i.e. crashing
// in a loop under Restart=on-failure.
func probeService(svc service.Service) (bool, string) {
	if strings.Contains(svc.Platform(), "systemd") {
		out, err := exec.Command("systemctl", "show", "--property=ActiveState,SubState,Result", serviceName+".service").Output()
		if err != nil {
			return false, "systemctl show: " + err.Error()
		}
		state := strings.Join(strings.Fields(string(out)), " ")
		return strings.Contains(state, "ActiveState=active") && strings.Contains(state, "SubState=running"), state
	}
	st, err := svc.Status()
	switch {
	case err != nil:
		return false, err.Error()
	case st == service.StatusRunning:
		return true, "running"
	case st == service.StatusStopped:
		return false, "stopped"
	}
	return false, "state unknown"
}

// serviceLogHint says where a daemon that died at once wrote why.
func serviceLogHint(platform string) string {
	switch {
	case strings.Contains(platform, "systemd"):
		return "journalctl -u " + serviceName + " -n 50"
	case strings.HasPrefix(platform, "unix-") || strings.HasPrefix(platform, "linux-"):
		return "/var/log/" + serviceName + ".err"
	}
	return "the Windows Event Log (source " + serviceName + ") and " + defaultServiceLogFile()
}

// servicePassword reads the service account's password from KSEF_SYNC_SERVICE_PASSWORD or the
// console — never from argv, where other users could see it.
func servicePassword(env *cliEnv, action, user string) (string, error) {
	if action != "install" || user == "" || !serviceAccountNeedsPassword {
		return "", nil
	}
	if pw := env.getenv("KSEF_SYNC_SERVICE_PASSWORD"); pw != "" {
		return pw, nil
	}
	fmt.Fprintf(env.stderr, "Password for %s (input is read from the console; or set KSEF_SYNC_SERVICE_PASSWORD): ", user)
	if f, ok := env.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		pw, err := term.ReadPassword(int(f.Fd())) // no echo on the console
		fmt.Fprintln(env.stderr)
		if err != nil || len(pw) == 0 {
			return "", errors.New("no password given for the service account")
		}
		return string(pw), nil
	}
	line, err := bufio.NewReader(env.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password given for the service account")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
