package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/ksef"
)

func cmdCheckConfig(_ context.Context, env *cliEnv, args []string) int {
	cfg, code := loadConfigFlag(env, "check-config", args[1:])
	if cfg == nil {
		return code
	}
	if cfg.MultiCompany() {
		return checkCompanies(env, cfg)
	}
	if n := printFolderProblems(env.stderr, cfg); n > 0 {
		fmt.Fprintf(env.stderr, "Fix the folders (or correct the keys in %s), then run check-config again.\n", cfg.Path)
		return exitFatal
	}
	if key, err := checkTokenSource(cfg); err != nil {
		fmt.Fprintf(env.stderr, "ksef-sync: %s has 1 problem(s):\n  %s: %v\n", cfg.Path, key, err)
		return exitFatal
	} else if key != "" {
		fmt.Fprintln(env.stdout, tokenShapeNote("", key))
	}
	fmt.Fprintf(env.stdout, "%s: OK (environment %s, NIP %s, auth %s)\n", cfg.Path, cfg.KSeF.Environment, cfg.KSeF.NIP, cfg.Auth.Method)
	return exitOK
}

// checkCompanies is check-config for a configuration that lists companies: the folders and token
// of every company, each problem starting with `company "NAME": `.
func checkCompanies(env *cliEnv, cfg *config.Config) int {
	problems := 0
	for _, co := range cfg.Companies() {
		v := cfg.ForCompany(co)
		where := fmt.Sprintf("company %q: ", co.Name)
		for _, u := range v.FoldersInUse() {
			if problem, fix := config.FolderProblem(u); problem != "" {
				fmt.Fprintf(env.stderr, "  %s%s: %s: %s; %s\n", where, u.Key, u.Path, problem, fix)
				problems++
			}
		}
		if key, err := checkTokenSource(v); err != nil {
			fmt.Fprintf(env.stderr, "  %s%s: %v\n", where, key, err)
			problems++
		} else if key != "" {
			fmt.Fprintln(env.stdout, tokenShapeNote(where, key)) // as for one company: README says check-config checks the token's shape
		}
	}
	if problems > 0 {
		fmt.Fprintf(env.stderr, "Fix the %d problem(s) above (or correct the keys in %s), then run check-config again.\n", problems, cfg.Path)
		return exitFatal
	}
	fmt.Fprintf(env.stdout, "%s: OK (environment %s, %d companies)\n", cfg.Path, cfg.KSeF.Environment, len(cfg.Companies()))
	for _, co := range cfg.Companies() {
		login := co.Auth.Method
		if co.Credential != "" {
			login += " [credentials." + co.Credential + "]"
		}
		fmt.Fprintf(env.stdout, "  company %s: NIP %s, auth %s, outbox %s\n", co.Name, co.NIP, login, co.Folders.Outbox)
	}
	return exitOK
}

// tokenShapeNote is the note for a token of an unusual shape in key; where names the company.
func tokenShapeNote(where, key string) string {
	return fmt.Sprintf("note: %sthe token in %s does not look like one issued by the KSeF application (<reference>|nip-<NIP>|<secret>); KSeF will say at login (ksef-sync auth check)", where, key)
}

// checkTokenSource reads the token the way the login will (BOM, UTF-16 and surrounding whitespace
// are fine) and says what is wrong with the file. With no error, a non-empty key means the token
// has an unusual shape (worth a note, not a failure: test systems issue other shapes).
func checkTokenSource(cfg *config.Config) (string, error) {
	if cfg.Auth.Method != "token" {
		return "", nil
	}
	var raw []byte
	key := "auth.token_file"
	switch {
	case cfg.Auth.TokenFile != "":
		b, err := os.ReadFile(cfg.Auth.TokenFile)
		if err != nil {
			return key, err
		}
		raw = b
	case cfg.Auth.TokenEnv != "":
		key = "auth.token_env"
		raw = []byte(os.Getenv(cfg.Auth.TokenEnv))
	default:
		return "", nil
	}
	tok, err := ksef.DecodeTokenFile(raw)
	if err == nil {
		// A shared [credentials.NAME] token too: it logs in only where it was generated.
		err = ksef.CheckToken(tok, cfg.KSeF.NIP)
	}
	if err != nil {
		return key, err
	}
	if !ksef.TokenLooksIssued(tok) {
		return key, nil
	}
	return "", nil
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
