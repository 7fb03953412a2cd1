package main

import (
	"bytes"
	"fmt"
	"testing"
)

// TestOrderedOutputKeepsEachCompanyTogether: companies that write and finish in any order are shown
// one after another in configuration order, each under its "company NAME:" line, stdout and stderr
// each in order; the company whose turn it is writes straight through (what a long wait prints is
// seen while it lasts), and a later one's lines appear only once every earlier one has finished.
func TestOrderedOutputKeepsEachCompanyTogether(t *testing.T) {
	var stdout, stderr bytes.Buffer
	o := newOrderedOutput(&stdout, &stderr, []string{"acme", "beta", "gamma"})
	env := &cliEnv{}
	acme, beta, gamma := o.env(env, 0), o.env(env, 1), o.env(env, 2)

	fmt.Fprintln(gamma.stdout, "gamma 1")
	fmt.Fprintln(beta.stderr, "beta waits")
	fmt.Fprintln(acme.stderr, "acme waits")
	if got, want := stdout.String()+stderr.String(), "company acme:\nacme waits\n"; got != want {
		t.Fatalf("while acme works: %q, want %q (acme's lines at once, nothing of the others)", got, want)
	}
	fmt.Fprintln(beta.stdout, "beta 1")
	o.end(2) // gamma finishes first: still held
	fmt.Fprintln(acme.stdout, "acme 1")
	o.end(0) // beta's turn: what it wrote appears, and it writes through from now on
	if got, want := stdout.String(), "company acme:\nacme 1\ncompany beta:\nbeta 1\n"; got != want {
		t.Fatalf("after acme: stdout %q, want %q", got, want)
	}
	fmt.Fprintln(beta.stdout, "beta 2")
	o.end(1) // gamma, already finished, follows at once
	if got, want := stdout.String(), "company acme:\nacme 1\ncompany beta:\nbeta 1\nbeta 2\ncompany gamma:\ngamma 1\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if got, want := stderr.String(), "acme waits\nbeta waits\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}
