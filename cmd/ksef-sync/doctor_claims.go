package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/outboxclaim"
)

// claimFindings mentions files waiting in other daemons' claim folders of each outbox
// (outbox/.ksef-sync/<daemon-id>/): a daemon sharing the outbox took them and has not finished.
// That is normal for a few seconds while it works; files that stay mean it stopped, and an
// administrator looking for an invoice must know where it went and how to hand it back.
func claimFindings(cfg *config.Config) []finding {
	id, err := outboxclaim.ReadID(cfg.Folders.State)
	if err != nil {
		return []finding{{Check: "daemon id " + cfg.Folders.State, Problem: err.Error(),
			Fix: "restore the file from a backup of the state folder"}}
	}
	var out []finding
	for _, co := range cfg.Companies() {
		if c, _ := outboxclaim.Live(co.Folders.Outbox, id, outboxclaim.Me(cfg.Folders.State), time.Now()); c != nil && id != "" {
			out = append(out, finding{Check: "daemon id " + id + " on outbox " + co.Folders.Outbox, Problem: "another running ksef-sync uses this daemon's id there",
				Fix: c.Error()})
		}
		held, err := outboxclaim.Others(co.Folders.Outbox, id)
		if err != nil {
			continue // the outbox folder's own check reports a folder that cannot be read
		}
		for _, h := range held {
			out = append(out, finding{Check: "claim folder of another daemon " + h.Dir,
				Info: fmt.Sprintf("%d file(s) taken by daemon %s and not finished yet (%s); if that host is down for good, move them back into %s and a running daemon sends them",
					h.Files, h.Daemon, strings.Join(h.Names, ", "), co.Folders.Outbox)})
		}
	}
	return out
}
