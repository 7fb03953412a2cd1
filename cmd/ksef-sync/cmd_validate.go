package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/invoicexml"
	"github.com/ksef-sync/ksef-sync/internal/msg"
)

// cmdValidate checks invoice files exactly as the daemon does before sending (encoding, XML, the
// fields ksef-sync needs, the FA(3) schema; with -nip the seller, as for that company) without
// sending anything. One line per problem,
// FILE:LINE: PATH: MESSAGE, on standard output; exit 0 when every file is valid, 3 when any is not,
// 1 when a file cannot be read, 2 for usage errors.
func cmdValidate(_ context.Context, env *cliEnv, args []string) int {
	fs := bareFlags(env, "validate")
	langFlag := fs.String("lang", "pl", "language of the descriptions and schema messages: pl or en")
	nip := fs.String("nip", "", "the company's NIP: check the seller (Podmiot1) as the daemon sending for it does; without it the seller is not checked")
	ksefEnv := fs.String("env", "prod", "the KSeF environment the invoices go to: test, demo or prod; only prod checks the check digits of the parties' NIPs")
	fs.Usage = func() {
		fmt.Fprintln(env.stderr, "usage: ksef-sync validate [-lang pl|en] [-nip NIP] [-env test|demo|prod] FILE|FOLDER...")
		fmt.Fprintln(env.stderr, "Checks invoices against FA(3) without sending them; a folder means its *.xml files.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return parseFailed(err)
	}
	lang, err := msg.Parse(*langFlag)
	if err != nil {
		return fail(env, exitUsage, fmt.Errorf("-lang: %w", err))
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	if problem := config.CheckNIP(*nip); *nip != "" && problem != "" {
		return fail(env, exitUsage, fmt.Errorf("-nip %s", problem))
	}
	if *ksefEnv != "test" && *ksefEnv != "demo" && *ksefEnv != "prod" {
		return fail(env, exitUsage, fmt.Errorf("-env %q: use test, demo or prod", *ksefEnv))
	}
	opts := invoicexml.Options{ContextNIP: *nip, Lang: lang, CheckPartyNIPs: *ksefEnv == "prod"}
	files, code := expandInvoiceArgs(env, fs.Args())
	invalid := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			code = fail(env, exitFatal, err)
			continue
		}
		if printInvoiceProblems(env, f, raw, opts) {
			invalid++
		}
	}
	fmt.Fprintf(env.stderr, "%d file(s) checked, %d invalid\n", len(files), invalid)
	if *nip == "" {
		fmt.Fprintln(env.stderr, "the seller (Podmiot1) was not checked: give -nip with the company's NIP to check it as the daemon does")
	}
	if code == exitOK && invalid > 0 {
		code = exitRejected
	}
	return code
}

// expandInvoiceArgs turns folders into their *.xml files (sorted, not recursive).
func expandInvoiceArgs(env *cliEnv, args []string) ([]string, int) {
	var files []string
	code := exitOK
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			code = fail(env, exitFatal, err)
			continue
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			code = fail(env, exitFatal, err)
			continue
		}
		var in []string
		for _, e := range entries {
			if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".xml") {
				in = append(in, filepath.Join(a, e.Name()))
			}
		}
		sort.Strings(in)
		files = append(files, in...)
	}
	return files, code
}

// printInvoiceProblems prints file's problems and reports whether it has any.
func printInvoiceProblems(env *cliEnv, file string, raw []byte, opts invoicexml.Options) bool {
	_, err := invoicexml.Prepare(raw, opts)
	if err == nil {
		return false
	}
	var verr *invoicexml.Error
	if !errors.As(err, &verr) {
		fmt.Fprintf(env.stdout, "%s:1: Faktura: %v\n", file, err)
		return true
	}
	if len(verr.Problems) > 0 {
		for _, p := range verr.Problems {
			fmt.Fprintf(env.stdout, "%s:%d: %s: %s\n", file, p.Line, p.Path, p.Message)
		}
		return true
	}
	line, path := max(verr.Line, 1), verr.Field
	if path == "" {
		path = "Faktura"
	}
	fmt.Fprintf(env.stdout, "%s:%d: %s: %s\n", file, line, path, verr.Description)
	return true
}
