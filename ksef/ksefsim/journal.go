package ksefsim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Invoice records never change once created, so they are persisted in an append-only JSON-lines
// journal instead of the snapshot; the indexes derived from them (KSeF numbers, duplicates,
// retrieval order, accepted list) are rebuilt on load. This keeps each snapshot small, so a
// long run with many invoices does not rewrite all of them every 100 ms.
const journalName = "ksefsim-invoices.jsonl"

// addInvoiceLocked stores a finished invoice record, indexes it and journals it.
func (s *Server) addInvoiceLocked(inv *invoice) error {
	s.st.Invoices[inv.Ref] = inv
	s.indexInvoiceLocked(inv)
	s.markDirty()
	if s.journal == nil {
		return nil
	}
	line, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("encode invoice: %w", err)
	}
	if _, err := s.journal.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("append journal: %w", err)
	}
	return nil
}

// indexInvoiceLocked updates every index derived from an invoice record.
func (s *Server) indexInvoiceLocked(inv *invoice) {
	if inv.Code == 435 {
		return // never decrypted: no content hash to remember
	}
	seller := inv.ContextNIP
	if inv.Facts != nil {
		seller = inv.Facts.SellerNIP
	}
	s.st.SeenHashes[seller+"|"+inv.InvoiceHash] = true
	if inv.Code != 200 || inv.KsefNumber == "" {
		return
	}
	f := inv.Facts
	s.st.DupKeys[f.SellerNIP+"|"+f.InvoiceKind+"|"+f.InvoiceNumber] = dupEntry{SessionRef: inv.SessionRef, KsefNumber: inv.KsefNumber}
	s.st.ByKsef[inv.KsefNumber] = inv.Ref
	s.st.Stored = append(s.st.Stored, inv.Ref)
	if !inv.Seeded {
		s.st.Counters.Accepted = append(s.st.Counters.Accepted, AcceptedInvoice{KsefNumber: inv.KsefNumber, InvoiceHash: inv.InvoiceHash,
			InvoiceNumber: inv.InvoiceNumber, SellerNIP: f.SellerNIP, SessionReferenceNumber: inv.SessionRef, InvoiceReferenceNumber: inv.Ref, Mode: inv.Mode,
			Offline: inv.Offline, HashOfCorrectedInvoice: inv.CorrectedHash})
	}
}

// openJournal replays the invoice journal into st and opens it for appending.
func (s *Server) openJournal(dir string) error {
	path := filepath.Join(dir, journalName)
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("open journal: %w", err)
	default:
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var inv invoice
			if err := json.Unmarshal(sc.Bytes(), &inv); err != nil {
				// A torn last line after a crash: everything before it is intact.
				s.log.Warn("invoice journal: skipping undecodable record", "err", err)
				continue
			}
			if _, dup := s.st.Invoices[inv.Ref]; dup {
				continue
			}
			s.st.Invoices[inv.Ref] = &inv
			s.indexInvoiceLocked(&inv)
		}
		err := sc.Err()
		f.Close()
		if err != nil {
			return fmt.Errorf("read journal: %w", err)
		}
	}
	j, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	s.journal = j
	return nil
}

// snapshotView is st without the journal-derived parts.
func snapshotView(st *state) *state {
	cp := *st
	cp.Invoices, cp.ByKsef, cp.Stored, cp.DupKeys, cp.SeenHashes = nil, nil, nil, nil, nil
	cp.Counters.Accepted = nil
	return &cp
}
