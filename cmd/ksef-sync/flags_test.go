package main

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// helpFlag is one flag line of a flag set's usage: two spaces, a dash and the flag's name.
var helpFlag = regexp.MustCompile(`(?m)^  -([A-Za-z0-9-]+)`)

// TestEachCommandListsOnlyItsFlags: `ksef-sync CMD -h` lists exactly the flags CMD uses (issue 11
// item 13). Service control commands act on the installed service by name, so they list none;
// only install reads a config and an account. Every command must be in the table, so a new command
// or flag is a deliberate change here too.
func TestEachCommandListsOnlyItsFlags(t *testing.T) {
	want := map[string][]string{
		"run":           {"config"},
		"send":          {"company", "config", "timeout"},
		"pull":          {"company", "config", "out", "since", "until"},
		"get":           {"company", "config", "ksef-number", "lang", "out"},
		"render":        {"env", "in", "ksef-number", "lang", "out", "qr", "upo"},
		"check-config":  {"config"},
		"validate":      {"lang"},
		"status":        {"company", "config", "json"},
		"notify test":   {"config"},
		"doctor":        {"company", "config"},
		"auth check":    {"company", "config"},
		"cert gen-test": {"days", "key", "nip", "out"},
		"sim": {"addr", "allow-remote", "certs", "delay", "delay-dist", "faults", "grants", "hwm-lag", "nip",
			"rate-limits", "rate-scale", "state", "tokens", "truncate"},
		"demo":      {"dir", "timeout"},
		"install":   {"config", "user"},
		"uninstall": nil,
		"start":     nil,
		"stop":      nil,
		"restart":   nil,
		"version":   nil,
	}
	for _, c := range commands() {
		covered := slices.ContainsFunc(slices.Collect(maps.Keys(want)), func(k string) bool {
			return strings.Fields(k)[0] == c.name
		})
		if !covered {
			t.Errorf("command %q has no entry in the table of flags", c.name)
		}
	}
	for cmdline, flags := range want {
		t.Run(cmdline, func(t *testing.T) {
			args := append(strings.Fields(cmdline), "-h")
			code, stdout, stderr := runCLI(t, "", nil, args...)
			if code != exitOK {
				t.Fatalf("exit %d, want 0; stderr: %s", code, stderr)
			}
			var got []string
			for _, m := range helpFlag.FindAllStringSubmatch(stdout+stderr, -1) {
				got = append(got, m[1])
			}
			slices.Sort(got)
			if diff := cmp.Diff(flags, got); diff != "" {
				t.Errorf("flags listed by %s -h (-want +got):\n%s\noutput:\n%s%s", cmdline, diff, stdout, stderr)
			}
		})
	}
}
