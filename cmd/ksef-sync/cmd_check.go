package main

import (
	"context"
	"fmt"
)

func cmdCheckConfig(_ context.Context, env *cliEnv, args []string) int {
	fs, cfgPath := newFlags(env, "check-config")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	cfg, code := loadConfig(env, *cfgPath)
	if cfg == nil {
		return code
	}
	fmt.Fprintf(env.stdout, "%s: OK (environment %s, NIP %s, auth %s)\n", cfg.Path, cfg.KSeF.Environment, cfg.KSeF.NIP, cfg.Auth.Method)
	return exitOK
}
