package ksefsim

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// RunCLI implements `ksef-sync sim`: it starts a simulator, prints url/admin/nip/token and runs until ctx ends.
func RunCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	nip := fs.String("nip", "5265877635", "default context NIP")
	tokens := fs.String("tokens", "", "pre-registered KSeF tokens NIP:TOKEN,...")
	certs := fs.String("certs", "", "trusted XAdES certificates NIP:cert.pem,...")
	grants := fs.String("grants", "", "let the certificates of OWNER_NIP act in CLIENT_NIP's context (a token works only in its own): OWNER_NIP:CLIENT_NIP[:PERMISSIONS],... where PERMISSIONS is InvoiceWrite, InvoiceRead or InvoiceWrite+InvoiceRead (the default); an operation needing a permission not granted is answered 403 missing-permissions")
	stateDir := fs.String("state", "", "directory for persistent state (empty = memory only)")
	delay := fs.Duration("delay", 200*time.Millisecond, "delay of each asynchronous processing step")
	rateMode := fs.String("rate-limits", "production", "production|off|scaled")
	rateScale := fs.Float64("rate-scale", 1, "multiplier for -rate-limits scaled")
	truncate := fs.Int("truncate", 10000, "max invoices per export package")
	hwmLag := fs.Duration("hwm-lag", 2*time.Minute, "permanentStorageHwmDate lag behind now")
	exportURLTTL := fs.Duration("export-url-ttl", time.Hour, "how long an export part's download link lives after the status read that gave it")
	storageLag := fs.Duration("storage-lag", 0, "how much longer an accepted invoice takes to be stored for good (downloadable by number; 21165 until then)")
	allowRemote := fs.Bool("allow-remote", false, "allow listening on non-loopback addresses")
	faults := fs.String("faults", "", "production weather: kind:rate[@group+group],... with kinds html5xx, waf403, storage-html, storage-corrupt (groups: §9 names or storage)")
	delayDist := fs.String("delay-dist", "", "processing-time distribution lognormal:median,p99 (long tail, out-of-order completion); default: fixed -delay")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // -h printed the flags: a success
		}
		return 2
	}
	kinds, err := ParseKindFaults(*faults)
	if err != nil {
		fmt.Fprintf(stderr, "sim: -faults: %v\n", err)
		return 2
	}
	dist, err := ParseDelayDist(*delayDist)
	if err != nil {
		fmt.Fprintf(stderr, "sim: -delay-dist: %v\n", err)
		return 2
	}
	opts := Options{DefaultNIP: *nip, StateDir: *stateDir, ProcessingDelay: *delay, RateLimits: *rateMode, RateScale: *rateScale,
		ExportTruncateAt: *truncate, HWMLag: *hwmLag, StorageLag: *storageLag, ExportPartURLTTL: *exportURLTTL, AllowNonLoopback: *allowRemote, DelayDist: dist,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	for _, item := range splitList(*tokens) {
		n, tok, ok := strings.Cut(item, ":")
		if !ok || n == "" || tok == "" {
			fmt.Fprintf(stderr, "sim: -tokens entry must be NIP:TOKEN\n")
			return 2
		}
		opts.Tokens = append(opts.Tokens, TokenGrant{NIP: n, Token: tok})
	}
	for _, item := range splitList(*certs) {
		n, file, ok := strings.Cut(item, ":")
		if !ok {
			fmt.Fprintf(stderr, "sim: -certs entry must be NIP:cert.pem\n")
			return 2
		}
		cs, err := readCertsPEM(file)
		if err != nil {
			fmt.Fprintf(stderr, "sim: %v\n", err)
			return 1
		}
		if opts.TrustedCerts == nil {
			opts.TrustedCerts = map[string][]*x509.Certificate{}
		}
		opts.TrustedCerts[n] = append(opts.TrustedCerts[n], cs...)
	}
	for _, item := range splitList(*grants) {
		owner, client, ok := strings.Cut(item, ":")
		if !ok || owner == "" || client == "" {
			fmt.Fprintf(stderr, "sim: -grants entry must be OWNER_NIP:CLIENT_NIP[:InvoiceWrite+InvoiceRead]\n")
			return 2
		}
		if _, _, err := ParseGrantTarget(client); err != nil {
			fmt.Fprintf(stderr, "sim: -grants: %v\n", err)
			return 2
		}
		if opts.Grants == nil {
			opts.Grants = map[string][]string{}
		}
		opts.Grants[owner] = append(opts.Grants[owner], client)
	}
	srv, err := New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "sim: %v\n", err)
		return 1
	}
	if len(kinds) > 0 {
		srv.SetFaults(Faults{Kinds: kinds})
	}
	if err := srv.Start(*addr); err != nil {
		fmt.Fprintf(stderr, "sim: %v\n", err)
		srv.Close()
		return 1
	}
	fmt.Fprintf(stdout, "url: %s\nadmin: %s\nnip: %s\ntoken: %s\n", srv.URL(), srv.AdminURL(), *nip, srv.Token(*nip))
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		fmt.Fprintf(stderr, "sim: close: %v\n", err)
		return 1
	}
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func readCertsPEM(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %s: %w", file, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CERTIFICATE block in %s", file)
	}
	return out, nil
}
