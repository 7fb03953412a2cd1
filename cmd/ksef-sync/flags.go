package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"
)

// bareFlags is a flag set that reports errors instead of exiting, for a command without a config
// (newFlags adds the -config flag); the command adds its own flags, if any.
func bareFlags(env *cliEnv, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("ksef-sync "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	return fs
}

// hideFromHelp keeps accepting the named flags but leaves them out of `-h`: the command ignores
// them, and help lists only the flags a command uses (issue 11 item 13). They stay accepted so
// that scripts written for older versions (`ksef-sync stop -config FILE`) keep working.
func hideFromHelp(fs *flag.FlagSet, hidden ...string) {
	fs.Usage = func() {
		shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
		shown.SetOutput(fs.Output())
		fs.VisitAll(func(f *flag.Flag) {
			if !slices.Contains(hidden, f.Name) {
				shown.Var(f.Value, f.Name, f.Usage)
				shown.Lookup(f.Name).DefValue = f.DefValue
			}
		})
		fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
		shown.PrintDefaults()
	}
}

// parseArgs parses a command's flags. A word left over is a usage error (exit 2) instead of being
// ignored: `ksef-sync send config.toml` (no -config) would otherwise run with the default
// configuration, and `send -config F extra -timeout 1m` would silently drop the -timeout after the
// stray word, since flag parsing stops at the first word that is not a flag.
func parseArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return nil
	}
	err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
	if strings.HasSuffix(strings.ToLower(fs.Arg(0)), ".toml") {
		err = fmt.Errorf("%w: the configuration file goes after -config", err)
	}
	fmt.Fprintf(fs.Output(), "%s: %v\n", fs.Name(), err)
	fs.Usage()
	return err
}
