package main

import (
	"context"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

func cmdSim(ctx context.Context, env *cliEnv, args []string) int {
	return ksefsim.RunCLI(ctx, args[1:], env.stdout, env.stderr)
}
