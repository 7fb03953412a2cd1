package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/render"
	"github.com/ksef-sync/ksef-sync/ksef"
)

// cmdGet fetches one invoice by its KSeF number into a folder: the XML exactly as KSeF holds it,
// its metadata and a readable PDF. It opens no journal, so it also works while the daemon runs.
func cmdGet(ctx context.Context, env *cliEnv, args []string) int {
	fs, cfgPath := newFlags(env, "get")
	number := fs.String("ksef-number", "", "KSeF number of the invoice (required)")
	company := fs.String("company", "", "the company to fetch for, by name (or NIP); required when the configuration lists several")
	out := fs.String("out", ".", "folder to write N.xml, N.json and N.pdf into")
	lang := fs.String("lang", "", "label language of the PDF: pl or en (default: render.language, else language)")
	if err := parseArgs(fs, args[1:]); err != nil {
		return parseFailed(err)
	}
	if *number == "" || fs.NArg() > 0 {
		return fail(env, exitUsage, errors.New("get needs -ksef-number N"))
	}
	if !ksef.ValidKsefNumber(*number) {
		return fail(env, exitUsage, fmt.Errorf("-ksef-number %q is not a KSeF number (NIP-YYYYMMDD-XXXXXXXXXXXX-XX)", *number))
	}
	cfg, code := loadConfig(env, *cfgPath)
	if cfg == nil {
		return code
	}
	cfg, err := getCompany(cfg, *company)
	if err != nil {
		return fail(env, exitUsage, err)
	}
	o, err := getRenderOptions(cfg, *lang)
	if err != nil {
		return fail(env, exitUsage, err)
	}
	log, closeLog, err := newLogger(env, cfg)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	defer closeLog()
	client, err := newClient(cfg, log)
	if err != nil {
		return fail(env, exitFatal, fmt.Errorf("KSeF client: %w", err))
	}
	if err := getInvoice(ctx, env, cfg, client, log, *number, *out, o); err != nil {
		return fail(env, exitFatal, err)
	}
	return exitOK
}

// getCompany is the configuration as the -company of `get` sees it: the only company when there is
// one (and -company, if given, names it), else the named one.
func getCompany(cfg *config.Config, name string) (*config.Config, error) {
	cos := cfg.Companies()
	if name == "" {
		if len(cos) > 1 {
			return nil, fmt.Errorf("-company NAME: the configuration serves %d companies (%s); name the one to fetch for", len(cos), strings.Join(companyNames(cfg), ", "))
		}
		name = cos[0].Name
	}
	views, err := companyViews(cfg, companyFlag{name})
	if err != nil {
		return nil, err
	}
	return views[0], nil
}

func getRenderOptions(cfg *config.Config, lang string) (render.Options, error) {
	if lang == "" {
		lang = cfg.RenderLanguage()
	}
	l, err := render.ParseLang(lang)
	return render.Options{Lang: l}, err
}

func getInvoice(ctx context.Context, env *cliEnv, cfg *config.Config, c *ksef.Client, log *slog.Logger, number, dir string, o render.Options) error {
	xml, err := c.GetInvoice(ctx, number)
	if err != nil {
		return explainGetError(err, number)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(dir, number)
	// The XML first: it is the document; metadata and PDF are conveniences.
	if err := atomicfile.WriteFile(base+".xml", xml, 0o644); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, base+".xml")
	meta, err := invoiceMetadata(ctx, c, cfg.KSeF.NIP, number, xml)
	if err != nil {
		log.Warn("no metadata from KSeF; writing what the invoice itself says", "ksef_number", number, "err", err)
	}
	if err := atomicfile.WriteFile(base+".json", meta, 0o644); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, base+".json")
	o.KsefNumber = number
	if f, err := render.InvoiceFacts(xml); err == nil && cfg.QRBaseURL() != "" {
		o.QRCodeI = ksef.QRCodeI(cfg.QRBaseURL(), f.SellerNIP, f.IssueDate, ksef.InvoiceSHA256(xml))
	}
	formats := []render.Format{render.PDF} // get always writes the PDF; HTML too when configured
	for _, f := range cfg.Render.Formats {
		if f == string(render.HTML) {
			formats = append(formats, render.HTML)
		}
	}
	for _, f := range formats {
		o.Format = f
		doc, err := render.Invoice(xml, o)
		if err != nil {
			return fmt.Errorf("render %s: %w", number, err)
		}
		if err := atomicfile.WriteFile(base+f.Ext(), doc, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, base+f.Ext())
	}
	return nil
}

// invoiceMetadata asks KSeF for the invoice's metadata (the same record an export carries). The
// KSeF number starts with the seller's NIP, so our own sales are looked up as Subject1 and
// anything else as buyer, third party and authorised subject in turn. When KSeF has no answer
// the JSON holds what the invoice itself says, marked "metadataSource": "invoice".
func invoiceMetadata(ctx context.Context, c *ksef.Client, ourNIP, number string, xml []byte) ([]byte, error) {
	day, _ := time.Parse("20060102", number[11:19])
	to := day.AddDate(0, 0, 2)
	subjects := []string{"Subject2", "Subject3", "SubjectAuthorized"}
	if number[:10] == ourNIP {
		subjects = []string{"Subject1"}
	}
	var lastErr error
	for _, s := range subjects {
		page, err := c.QueryMetadata(ctx, ksef.QueryFilters{SubjectType: s, KsefNumber: number,
			DateRange: ksef.DateRange{DateType: "Invoicing", From: day.AddDate(0, 0, -1), To: &to}}, 0, 10, "")
		if err != nil {
			lastErr = err
			continue
		}
		for _, m := range page.Invoices {
			if m.KsefNumber == number {
				return json.MarshalIndent(m, "", "  ")
			}
		}
	}
	if lastErr == nil {
		lastErr = errors.New("not found in the metadata query")
	}
	fallback := map[string]any{"ksefNumber": number, "metadataSource": "invoice",
		"invoiceHash": base64.StdEncoding.EncodeToString(ksef.InvoiceSHA256(xml))}
	if f, err := render.InvoiceFacts(xml); err == nil {
		fallback["invoiceNumber"], fallback["issueDate"] = f.Number, f.IssueDate.Format("2006-01-02")
		fallback["seller"] = map[string]string{"nip": f.SellerNIP}
	}
	b, err := json.MarshalIndent(fallback, "", "  ")
	if err != nil {
		return nil, err
	}
	return b, lastErr
}

// explainGetError says what KSeF's refusal to serve an invoice by number means for the person
// running get. 21165: KSeF has numbered the invoice but not yet stored it for good, and serves it
// only then ("została przetworzona, ale nie jest jeszcze dostępna do pobrania. Spróbuj ponownie
// później", open-api.json GET /invoices/ksef/{ksefNumber}); production answers it right after an
// invoice is accepted (CIRFMF/ksef-api #96). 21164: no such invoice in this company's context.
func explainGetError(err error, number string) error {
	var api *ksef.APIError
	switch {
	case !errors.As(err, &api):
		return err
	case api.HasCode(21165):
		return fmt.Errorf("KSeF has registered invoice %s but not stored it for download yet; run get again in a few minutes (%w)", number, err)
	case api.HasCode(21164):
		return fmt.Errorf("KSeF has no invoice %s that this company may read: check the number and -company (%w)", number, err)
	}
	return err
}
