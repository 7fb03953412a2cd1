package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/render"
	"github.com/ksef-sync/ksef-sync/ksef"
)

// cmdRender renders any FA(3) file (and optionally its UPO) as PDF or HTML, without a config:
// an ERP can preview an invoice before sending it.
func cmdRender(_ context.Context, env *cliEnv, args []string) int {
	fs := bareFlags(env, "render")
	in := fs.String("in", "", "FA(3) invoice XML to render")
	out := fs.String("out", "", "output file: .pdf, or .html for a web page (required)")
	ksefNumber := fs.String("ksef-number", "", "KSeF number to print (default: from -upo, else none: a preview)")
	upo := fs.String("upo", "", "the invoice's UPO XML: its KSeF number is used, and the UPO is rendered next to -out as <name>.upo.pdf/.html (alone when -in is not given)")
	lang := fs.String("lang", "pl", "label language: pl or en")
	qr := fs.String("qr", "", "KOD I link to print (the qrCodeI of .ksef.json; captioned OFFLINE without a KSeF number); default: built from the file when -env and a KSeF number are given")
	envName := fs.String("env", "", "KSeF environment for the KOD I link: test, demo or prod")
	if err := parseArgs(fs, args[1:]); err != nil {
		return parseFailed(err)
	}
	if *out == "" || (*in == "" && *upo == "") || fs.NArg() > 0 {
		return fail(env, exitUsage, errors.New("render needs -in FILE.xml (or -upo UPO.xml) and -out FILE.pdf|FILE.html"))
	}
	o, err := renderOptions(*lang, *out)
	if err != nil {
		return fail(env, exitUsage, err)
	}
	var upoXML []byte
	if *upo != "" {
		if upoXML, err = os.ReadFile(*upo); err != nil {
			return fail(env, exitFatal, err)
		}
	}
	if *in == "" {
		return writeRendered(env, *out, func() ([]byte, error) { return render.UPO(upoXML, o) })
	}
	xml, err := os.ReadFile(*in)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	o.KsefNumber, o.QRCodeI = *ksefNumber, *qr
	if err := completeNumbers(&o, xml, upoXML, *envName); err != nil {
		return fail(env, exitFatal, err)
	}
	if code := writeRendered(env, *out, func() ([]byte, error) { return render.Invoice(xml, o) }); code != exitOK {
		return code
	}
	if upoXML != nil {
		return writeRendered(env, upoPath(*out), func() ([]byte, error) { return render.UPO(upoXML, o) })
	}
	return exitOK
}

// renderOptions picks the language and, from the output file's extension, the format.
func renderOptions(lang, out string) (render.Options, error) {
	l, err := render.ParseLang(lang)
	if err != nil {
		return render.Options{}, err
	}
	o := render.Options{Lang: l, Format: render.PDF}
	switch strings.ToLower(filepath.Ext(out)) {
	case ".pdf":
	case ".html", ".htm":
		o.Format = render.HTML
	default:
		return o, fmt.Errorf("-out %s: the name must end in .pdf or .html", out)
	}
	return o, nil
}

// completeNumbers fills the KSeF number from the UPO and builds the KOD I link when the
// environment is known, exactly as the daemon does for .ksef.json.
func completeNumbers(o *render.Options, xml, upoXML []byte, envName string) error {
	facts, err := render.InvoiceFacts(xml)
	if err != nil {
		return err
	}
	if o.KsefNumber == "" && upoXML != nil {
		if o.KsefNumber, err = render.UPOKsefNumber(upoXML, facts.Number); err != nil {
			return err
		}
	}
	if o.QRCodeI != "" || envName == "" || o.KsefNumber == "" {
		return nil // a preview has no KOD I; an offline invoice passes its link with -qr
	}
	base := (&config.Config{KSeF: config.KSeF{Environment: envName}}).QRBaseURL()
	if base == "" {
		return fmt.Errorf("-env %q: want test, demo or prod", envName)
	}
	o.QRCodeI = ksef.QRCodeI(base, facts.SellerNIP, facts.IssueDate, ksef.InvoiceSHA256(xml))
	return nil
}

// upoPath is where the UPO of an invoice rendered to out goes: x.pdf → x.upo.pdf.
func upoPath(out string) string {
	ext := filepath.Ext(out)
	return strings.TrimSuffix(out, ext) + ".upo" + ext
}

func writeRendered(env *cliEnv, path string, fn func() ([]byte, error)) int {
	b, err := fn()
	if err != nil {
		return fail(env, exitFatal, err)
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return fail(env, exitFatal, err)
	}
	fmt.Fprintln(env.stdout, path)
	return exitOK
}
