package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestDoctorShowsAvailability: doctor asks the status service (here the simulator's, through
// ksef.status_url) and shows the state, since when and the announcement; an announced failure is a
// finding, an unreachable status service only information.
func TestDoctorShowsAvailability(t *testing.T) {
	sim := startSim(t, ksefsim.Options{RateLimits: "off"})
	latarnia := strings.TrimSuffix(sim.URL(), "/v2") + "/latarnia"
	dir := t.TempDir()
	path := company(t, dir, sim.URL(), tokenAuth(t, dir, sim.Token(opNIP)), "")
	editConfig(t, path, "[ksef]\n", "[ksef]\nstatus_url = \""+latarnia+"\"\n")
	// (The token's end in 2027 is a finding of its own these days: only the status line is looked at.)
	doctor := func() string {
		_, out := doctorReport(path, time.Now())
		return out
	}
	if out := doctor(); !strings.Contains(out, "[ OK ] KSeF status service "+latarnia+": KSeF available since ") {
		t.Errorf("available:\n%s", out)
	}
	if err := sim.AnnounceLatarnia("FAILURE", "Awaria KSeF", "Trwa awaria systemu KSeF."); err != nil {
		t.Fatal(err)
	}
	out := doctor()
	if !strings.Contains(out, "[FAIL] KSeF status service "+latarnia+": KSeF failure announced since ") ||
		!strings.Contains(out, "Awaria KSeF: Trwa awaria systemu KSeF.") || !strings.Contains(out, "issued offline") {
		t.Errorf("failure:\n%s", out)
	}
	sim.Close() // the status service goes away too: information, not a problem of this installation
	if out := doctor(); !strings.Contains(out, "[ OK ] KSeF status service "+latarnia+": did not answer usably") {
		t.Errorf("status service down:\n%s", out)
	}
}

// TestAvailabilityLogged: the daemon's tracker logs every change with the state, since when and the
// announcement text, a warning while KSeF cannot be used.
func TestAvailabilityLogged(t *testing.T) {
	sim := startSim(t, ksefsim.Options{RateLimits: "off"})
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := &config.Config{KSeF: config.KSeF{Environment: "test", StatusURL: strings.TrimSuffix(sim.URL(), "/v2") + "/latarnia"}}
	var told []string
	tr := newAvailability(cfg, log, func(why string) { told = append(told, why) })
	if err := tr.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sim.AnnounceLatarnia("FAILURE", "Awaria KSeF", "Trwa awaria systemu KSeF."); err != nil {
		t.Fatal(err)
	}
	if err := tr.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(told) != 1 || !strings.Contains(told[0], "failure announced since") {
		t.Errorf("told the notifier %q, want the announced failure once", told)
	}
	out := logs.String()
	for _, want := range []string{`level=INFO msg="KSeF availability: available since `, `level=WARN msg="KSeF availability: failure announced since `,
		`announcement="Awaria KSeF: Trwa awaria systemu KSeF."`, "state=failure", "invoices claimed now are issued offline"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
