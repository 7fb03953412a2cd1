package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
		Name:        serviceName,
		DisplayName: "KSeF Sync",
		Description: "Sends invoices from the ERP outbox to KSeF and collects KSeF numbers, UPOs and received invoices.",
		Arguments:   []string{"run", "-config", abs},
		UserName:    user,
		Dependencies: []string{
			"After=network-online.target",
			"Wants=network-online.target",
		},
		Option: opts,
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

// cmdService implements install, uninstall, start, stop and restart.
func cmdService(_ context.Context, env *cliEnv, args []string) int {
	action := args[0]
	fs, cfgPath := newFlags(env, action)
	user := fs.String("user", "", "install: run the service as this account (for access to network shares)")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if action == "install" {
		if _, code := loadConfig(env, *cfgPath); code != exitOK {
			fmt.Fprintln(env.stderr, "ksef-sync: fix the configuration before installing the service (ksef-sync check-config)")
			return code
		}
	}
	password, err := servicePassword(env, action, *user)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	sc, err := serviceConfig(*cfgPath, *user, password)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	svc, err := service.New(&program{}, sc)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	if err := service.Control(svc, action); err != nil {
		return fail(env, exitFatal, fmt.Errorf("%s: %w", action, err))
	}
	fmt.Fprintf(env.stdout, "service %s: %s done\n", serviceName, action)
	if action == "install" {
		fmt.Fprintf(env.stdout, "config baked into the service: %s\nstart it with: ksef-sync start\n", sc.Arguments[2])
	}
	return exitOK
}

// servicePassword reads the service account's password from KSEF_SYNC_SERVICE_PASSWORD or the
// console — never from argv, where other users could see it.
func servicePassword(env *cliEnv, action, user string) (string, error) {
	if action != "install" || user == "" {
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
