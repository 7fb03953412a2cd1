package main

import (
	"flag"
	"fmt"
	"slices"
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
