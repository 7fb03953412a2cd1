// Command ksef-sync connects an ERP's invoice folders to Poland's KSeF 2.0.
//
// One binary, several sub-commands; `ksef-sync help` lists them. Exit codes are a contract with ERP
// hooks and scripts: 0 success, 1 fatal error (including a configuration that does not load), 2 a
// command-line usage error, 3 (send) at least one invoice was rejected.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ksef-sync/ksef-sync/internal/config"
)

// version and commit are stamped at build time (make build, make cross: -ldflags -X main.version=...
// -X main.commit=...), so that support can tell builds apart.
var (
	version = "dev"
	commit  = "unknown"
)

const (
	exitOK       = 0
	exitFatal    = 1
	exitUsage    = 2
	exitRejected = 3
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) int
}

// cliEnv is what every sub-command may touch; tests run commands in-process with their own.
type cliEnv struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	getenv         func(string) string
}

func commands() []command {
	return []command{
		{"run", "run the daemon in the foreground (the service runs the same code)", cmdRun},
		{"send", "one pass: send everything in the outbox, wait for the outcome, exit 0/3/1", cmdSend},
		{"pull", "one pull cycle: download new received and issued invoices into the inbox", cmdPull},
		{"get", "fetch one invoice by its KSeF number: XML, metadata JSON and PDF", cmdGet},
		{"render", "render an FA(3) file (and its UPO) as PDF or HTML, e.g. a preview", cmdRender},
		{"check-config", "report every problem in a config file, with key names", cmdCheckConfig},
		{"validate", "check invoice files (or folders) against FA(3) without sending; exit 0/3", cmdValidate},
		{"status", "show the daemon's state, queue, rejections and pull cursors (-json)", cmdStatus},
		{"notify", "notify test: send a test message through every configured channel", cmdNotify},
		{"doctor", "check config, folders, clock, network, login and limits; print fixes", cmdDoctor},
		{"auth", "auth check: log in to KSeF with the configured credentials", cmdAuth},
		{"cert", "cert gen-test: create a self-signed KSeF TEST certificate and key", cmdCert},
		{"sim", "run the built-in KSeF simulator", cmdSim},
		{"demo", "quick start: simulator + daemon + sample invoices in ./demo", cmdDemo},
		{"install", "install the system service (-config FILE, optional -user)", cmdService},
		{"uninstall", "remove the system service", cmdService},
		{"start", "start the system service", cmdService},
		{"stop", "stop the system service", cmdService},
		{"restart", "restart the system service", cmdService},
		{"version", "print the version", cmdVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, getenv: os.Getenv}
	setMemoryLimit(os.Getenv)
	stopProfile := startCPUProfile(os.Getenv)
	code := dispatch(ctx, env, os.Args[1:])
	stopProfile()
	os.Exit(code)
}

func dispatch(ctx context.Context, env *cliEnv, args []string) int {
	switch {
	case len(args) == 0:
		usage(env.stderr)
		return exitUsage
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help":
		usage(env.stdout)
		return exitOK
	case args[0] == "-version" || args[0] == "--version":
		return cmdVersion(ctx, env, args)
	case args[0] == "help" && len(args) > 1:
		// `help run` is `run -h`: the command's own flags, on standard output, exit 0.
		return dispatch(ctx, &cliEnv{stdout: env.stdout, stderr: env.stdout, stdin: env.stdin, getenv: env.getenv}, []string{args[1], "-h"})
	case args[0] == "help":
		usage(env.stdout)
		return exitOK
	}
	if c, ok := findCommand(args[0]); ok {
		return c.run(ctx, env, args)
	}
	fmt.Fprintf(env.stderr, "ksef-sync: unknown command %q\n\n", args[0])
	usage(env.stderr)
	return exitUsage
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "ksef-sync %s: the bridge between your ERP's invoice folders and KSeF 2.0\n\nUsage: ksef-sync <command> [flags]\n\nCommands:\n", version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'ksef-sync <command> -h' for the flags of a command. See README.md.\n")
}

func cmdVersion(_ context.Context, env *cliEnv, args []string) int {
	if err := parseArgs(bareFlags(env, "version"), args[1:]); err != nil {
		return parseFailed(err)
	}
	fmt.Fprintf(env.stdout, "ksef-sync %s (commit %s)\n", version, commit)
	return exitOK
}

// fail prints a one-line error for the user and returns the exit code.
func fail(env *cliEnv, code int, err error) int {
	var pe interface{ Error() string }
	if errors.As(err, &pe) {
		fmt.Fprintf(env.stderr, "ksef-sync: %v\n", err)
	}
	return code
}

// parseFailed is the exit code after a flag set refused its arguments: -h and --help printed the
// command's help, which is a success; anything else is a usage error.
func parseFailed(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// subcommand checks the second word of a two-word command (`auth check`, `cert gen-test`, `notify
// test`). It returns proceed=false with the exit code when there is nothing more to do: -h prints
// the usage line on standard output (exit 0); a missing or unknown word is a usage error (exit 2).
func subcommand(env *cliEnv, args []string, want, usage string) (code int, proceed bool) {
	switch {
	case len(args) >= 2 && (args[1] == "-h" || args[1] == "-help" || args[1] == "--help"):
		fmt.Fprintln(env.stdout, usage)
		return exitOK, false
	case len(args) < 2 || args[1] != want:
		fmt.Fprintln(env.stderr, usage)
		return exitUsage, false
	}
	return exitOK, true
}

// configSubcommand is the start of a two-word command whose only flag is -config (`auth check`,
// `notify test`): the word checked by subcommand, then the config loaded by loadConfigFlag. A nil
// config means exit with code.
func configSubcommand(env *cliEnv, args []string, want, usage string) (*config.Config, int) {
	if code, proceed := subcommand(env, args, want, usage); !proceed {
		return nil, code
	}
	return loadConfigFlag(env, args[0]+" "+want, args[2:])
}
