package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ksef-sync/ksef-sync/internal/config"
)

func cmdCheckConfig(_ context.Context, env *cliEnv, args []string) int {
	fs, cfgPath := newFlags(env, "check-config")
	if err := fs.Parse(args[1:]); err != nil {
		return parseFailed(err)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		printConfigProblems(env.stderr, *cfgPath, err)
		return exitFatal
	}
	if n := printFolderProblems(env.stderr, cfg); n > 0 {
		fmt.Fprintf(env.stderr, "Fix the folders (or correct the keys in %s), then run check-config again.\n", cfg.Path)
		return exitFatal
	}
	fmt.Fprintf(env.stdout, "%s: OK (environment %s, NIP %s, auth %s)\n", cfg.Path, cfg.KSeF.Environment, cfg.KSeF.NIP, cfg.Auth.Method)
	return exitOK
}

// printConfigProblems lists every problem with its key, then says where to look for the fix.
func printConfigProblems(w io.Writer, path string, err error) {
	var probs config.Problems
	if !errors.As(err, &probs) {
		fmt.Fprintf(w, "ksef-sync: %v\n", err)
		return
	}
	fmt.Fprintf(w, "ksef-sync: %s has %d problem(s):\n", path, len(probs))
	for _, p := range probs {
		if p.Key == "" {
			fmt.Fprintf(w, "  %s\n", p.Msg)
			continue
		}
		fmt.Fprintf(w, "  %s: %s\n", p.Key, p.Msg)
	}
	fmt.Fprintf(w, "Fix them in %s (every key is explained in config.example.toml and README.md), then run check-config again.\n", path)
}

// printFolderProblems checks on disk the folders the configuration uses (the same rule as doctor)
// and prints each problem with its key and fix; it returns how many it found.
func printFolderProblems(w io.Writer, cfg *config.Config) int {
	n := 0
	for _, u := range cfg.FoldersInUse() {
		if problem, fix := config.FolderProblem(u); problem != "" {
			fmt.Fprintf(w, "  %s: %s: %s; %s\n", u.Key, u.Path, problem, fix)
			n++
		}
	}
	return n
}
