package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// outputWorkers bounds parallel UPO downloads and file writes; fsync latency, not CPU, is the limit.
const outputWorkers = 8

// SentRecord is the content of sent/<name>.ksef.json. Its field names are a contract with ERPs.
type SentRecord struct {
	KsefNumber             string     `json:"ksefNumber"`
	InvoiceNumber          string     `json:"invoiceNumber"`
	InvoiceHash            string     `json:"invoiceHash"`
	SessionReferenceNumber string     `json:"sessionReferenceNumber"`
	ReferenceNumber        string     `json:"referenceNumber"`
	AcquisitionDate        *time.Time `json:"acquisitionDate,omitempty"`
	Mode                   string     `json:"mode"`
	QRCodeI                string     `json:"qrCodeI"`
	SellerNIP              string     `json:"sellerNip"`
	IssueDate              string     `json:"issueDate,omitempty"`
	FileName               string     `json:"fileName"`
	UPOFile                string     `json:"upoFile"`
	Conversion             string     `json:"conversion,omitempty"`
}

// ErrorRecord is the content of error/<name>.error.json. Its field names are a contract with ERPs.
type ErrorRecord struct {
	Code                   any      `json:"code"`
	Description            string   `json:"description"`
	Details                []string `json:"details"`
	Stage                  string   `json:"stage"`
	Hint                   string   `json:"hint"`
	FileName               string   `json:"fileName"`
	InvoiceNumber          string   `json:"invoiceNumber,omitempty"`
	SessionReferenceNumber string   `json:"sessionReferenceNumber,omitempty"`
	ReferenceNumber        string   `json:"referenceNumber,omitempty"`
	Time                   string   `json:"time"`
}

// writeOutputs turns accepted and rejected invoices into files in sent/ and error/, then marks
// them done. Names are reserved in the journal first, so a crash mid-write rewrites the same names
// instead of inventing new ones.
func (e *Engine) writeOutputs(ctx context.Context) error {
	final, err := e.opt.Journal.ByState(ctx, e.opt.NIP, spool.StateAccepted, spool.StateRejected)
	if err != nil || len(final) == 0 {
		return err
	}
	if err := e.reserveStems(ctx, final); err != nil {
		return err
	}
	done := e.writeAll(ctx, final)
	var errs []error
	for _, group := range groupByOutcome(final, done) {
		if len(group.ids) == 0 {
			continue
		}
		errs = append(errs, e.opt.Journal.TransitionMany(ctx, group.ids, []spool.State{group.from}, spool.StateDone, func(r *spool.Invoice) {
			if r.Outcome == "accepted" {
				r.UpoPath = filepath.Join(e.opt.Folders.Sent, r.OutputStem+".upo.xml")
			}
		}))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, inv := range final {
		if done[inv.ID] {
			e.log.Info("outputs written", "file", inv.FileName, "invoice", inv.ID, "state", spool.StateDone,
				"outcome", inv.Outcome, "output", inv.OutputStem, "ksef_number", inv.KsefNumber)
		}
	}
	_ = e.opt.Journal.SetMeta(ctx, "last_send_output", e.now().UTC().Format(time.RFC3339))
	return nil
}

type outcomeGroup struct {
	from spool.State
	ids  []int64
}

func groupByOutcome(final []spool.Invoice, done map[int64]bool) []outcomeGroup {
	groups := []outcomeGroup{{from: spool.StateAccepted}, {from: spool.StateRejected}}
	for _, inv := range final {
		if !done[inv.ID] {
			continue
		}
		if inv.State == spool.StateAccepted {
			groups[0].ids = append(groups[0].ids, inv.ID)
		} else {
			groups[1].ids = append(groups[1].ids, inv.ID)
		}
	}
	return groups
}

// reserveStems picks an output name for every invoice that has none: the input's base name, or
// the first "-N" variant that takes no existing file in the target folder.
func (e *Engine) reserveStems(ctx context.Context, final []spool.Invoice) error {
	taken := map[string]map[string]bool{}
	chosen := map[int64]string{}
	for i := range final {
		inv := &final[i]
		if inv.OutputStem != "" {
			continue
		}
		dir := e.outputDir(inv)
		if taken[dir] == nil {
			names, err := listLower(dir)
			if err != nil {
				return err
			}
			taken[dir] = names
		}
		inv.OutputStem = uniqueStem(taken[dir], stemOf(inv.FileName), suffixesFor(inv))
		chosen[inv.ID] = inv.OutputStem
	}
	byState := map[spool.State][]int64{}
	for i := range final {
		if _, ok := chosen[final[i].ID]; ok {
			byState[final[i].State] = append(byState[final[i].State], final[i].ID)
		}
	}
	for state, ids := range byState {
		err := e.opt.Journal.TransitionMany(ctx, ids, []spool.State{state}, state, func(r *spool.Invoice) {
			r.OutputStem = chosen[r.ID]
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) outputDir(inv *spool.Invoice) string {
	if inv.State == spool.StateAccepted {
		return e.opt.Folders.Sent
	}
	return e.opt.Folders.Error
}

func suffixesFor(inv *spool.Invoice) []string {
	if inv.State == spool.StateAccepted {
		return []string{".xml", ".upo.xml", ".ksef.json"}
	}
	return []string{".xml", ".error.json"}
}

func stemOf(fileName string) string {
	ext := filepath.Ext(fileName)
	if strings.EqualFold(ext, ".xml") {
		return strings.TrimSuffix(fileName, ext)
	}
	return fileName
}

func uniqueStem(taken map[string]bool, base string, suffixes []string) string {
	for n := 1; ; n++ {
		stem := base
		if n > 1 {
			stem = base + "-" + strconv.Itoa(n)
		}
		free := true
		for _, s := range suffixes {
			if taken[strings.ToLower(stem+s)] {
				free = false
				break
			}
		}
		if free {
			for _, s := range suffixes {
				taken[strings.ToLower(stem+s)] = true
			}
			return stem
		}
	}
}

func listLower(dir string) (map[string]bool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create output folder: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(entries))
	for _, en := range entries {
		m[strings.ToLower(en.Name())] = true
	}
	return m, nil
}

// writeAll writes every invoice's outputs with a few workers and reports which succeeded.
func (e *Engine) writeAll(ctx context.Context, final []spool.Invoice) map[int64]bool {
	var mu sync.Mutex
	done := make(map[int64]bool, len(final))
	work := make(chan *spool.Invoice)
	var wg sync.WaitGroup
	for range min(outputWorkers, len(final)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for inv := range work {
				err := e.writeOne(ctx, inv)
				if err != nil {
					e.log.Warn("writing outputs failed; will retry", "file", inv.FileName, "invoice", inv.ID, "err", err)
					continue
				}
				mu.Lock()
				done[inv.ID] = true
				mu.Unlock()
			}
		}()
	}
	for i := range final {
		if ctx.Err() != nil {
			break
		}
		work <- &final[i]
	}
	close(work)
	wg.Wait()
	return done
}

func (e *Engine) writeOne(ctx context.Context, inv *spool.Invoice) error {
	if inv.State == spool.StateAccepted {
		return e.writeSent(ctx, inv)
	}
	return e.writeError(inv)
}

func (e *Engine) writeSent(ctx context.Context, inv *spool.Invoice) error {
	upo, err := e.fetchUPO(ctx, inv)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(inv.RegisteredPath)
	if err != nil {
		return err
	}
	rec, err := e.sentRecord(inv)
	if err != nil {
		return err
	}
	js, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	base := filepath.Join(e.opt.Folders.Sent, inv.OutputStem)
	// The JSON goes last: an ERP that waits for it finds the invoice and the UPO already there.
	for _, f := range []struct {
		path string
		data []byte
	}{{base + ".xml", data}, {base + ".upo.xml", upo}, {base + ".ksef.json", append(js, '\n')}} {
		if err := atomicfile.WriteFile(f.path, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) sentRecord(inv *spool.Invoice) (*SentRecord, error) {
	hash, err := base64.StdEncoding.DecodeString(inv.RegisteredHash)
	if err != nil {
		return nil, fmt.Errorf("registered hash of %s: %w", inv.FileName, err)
	}
	issue, err := time.Parse("2006-01-02", inv.IssueDate)
	if err != nil {
		return nil, fmt.Errorf("issue date (P_1) of %s: %w", inv.FileName, err)
	}
	return &SentRecord{
		KsefNumber:             inv.KsefNumber,
		InvoiceNumber:          inv.InvoiceNumber,
		InvoiceHash:            inv.RegisteredHash,
		SessionReferenceNumber: inv.SessionRef,
		ReferenceNumber:        inv.InvoiceRef,
		AcquisitionDate:        inv.AcquisitionDate,
		Mode:                   inv.Mode,
		QRCodeI:                ksef.QRCodeI(e.opt.QRBase, e.opt.NIP, issue, hash),
		SellerNIP:              e.opt.NIP,
		IssueDate:              inv.IssueDate,
		FileName:               inv.FileName,
		UPOFile:                inv.OutputStem + ".upo.xml",
		Conversion:             inv.Conversion,
	}, nil
}

// fetchUPO prefers a copy we already hold, then the pre-signed URL (no API budget), and only then
// the rate-limited UPO endpoint.
func (e *Engine) fetchUPO(ctx context.Context, inv *spool.Invoice) ([]byte, error) {
	if inv.UpoPath != "" {
		if b, err := os.ReadFile(inv.UpoPath); err == nil {
			return b, nil
		}
	}
	if inv.UpoURL != "" {
		b, err := e.opt.KSeF.DownloadUPO(ctx, inv.UpoURL)
		if err == nil {
			return b, nil
		}
		e.log.Info("pre-signed UPO link failed; using the UPO endpoint", "invoice", inv.ID, "err", err)
	}
	b, err := e.opt.KSeF.InvoiceUPOByKsefNumber(ctx, inv.SessionRef, inv.KsefNumber)
	if err != nil {
		return nil, fmt.Errorf("download UPO for %s: %w", inv.KsefNumber, err)
	}
	return b, nil
}

func (e *Engine) writeError(inv *spool.Invoice) error {
	orig, err := os.ReadFile(inv.SpoolPath)
	if err != nil {
		return err
	}
	rec := ErrorRecord{
		Code:                   errorCode(inv),
		Description:            inv.ErrDescription,
		Details:                nonNil(inv.ErrDetails),
		Stage:                  inv.ErrStage,
		Hint:                   inv.ErrHint,
		FileName:               inv.FileName,
		InvoiceNumber:          inv.InvoiceNumber,
		SessionReferenceNumber: inv.SessionRef,
		ReferenceNumber:        inv.InvoiceRef,
		Time:                   e.now().UTC().Format(time.RFC3339),
	}
	js, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	base := filepath.Join(e.opt.Folders.Error, inv.OutputStem)
	if err := atomicfile.WriteFile(base+".xml", orig, 0o644); err != nil {
		return err
	}
	return atomicfile.WriteFile(base+".error.json", append(js, '\n'), 0o644)
}

// errorCode is KSeF's numeric status code for rejections by KSeF, and a stable text code
// ("not-xml", "wrong-seller-nip", …) for rejections found before sending.
func errorCode(inv *spool.Invoice) any {
	if inv.ErrStage == "validation" {
		return inv.ErrKind
	}
	return inv.ErrCode
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
