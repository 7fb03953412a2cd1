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
		"validate":      {"env", "lang", "nip"},
		"status":        {"company", "config", "json"},
		"notify test":   {"config"},
		"doctor":        {"company", "config"},
		"auth check":    {"company", "config"},
		"cert gen-test": {"days", "key", "nip", "out"},
		"sim": {"addr", "allow-remote", "certs", "delay", "delay-dist", "export-url-ttl", "faults", "grants", "hwm-lag", "nip",
			"rate-limits", "rate-scale", "state", "storage-lag", "tokens", "truncate"},
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

// TestHelpAndVersionConventions: -h and --help print help on standard output and exit 0, for the
// program and for every command; --version works like `version`; `help CMD` is `CMD -h`.
func TestHelpAndVersionConventions(t *testing.T) {
	noEnv := func(string) string { return "" }
	tests := []struct {
		args []string
		want string // on stdout
	}{
		{[]string{"-h"}, "Commands:"},
		{[]string{"--help"}, "Commands:"},
		{[]string{"help"}, "Commands:"},
		{[]string{"--version"}, "ksef-sync "},
		{[]string{"-version"}, "ksef-sync "},
		{[]string{"help", "run"}, "-config"},
		{[]string{"help", "send"}, "-timeout"},
	}
	for _, c := range commands() {
		if c.name == "version" {
			continue
		}
		tests = append(tests, struct {
			args []string
			want string
		}{[]string{c.name, "-h"}, ""}, struct {
			args []string
			want string
		}{[]string{c.name, "--help"}, ""})
	}
	tests = append(tests, struct {
		args []string
		want string
	}{[]string{"auth", "check", "-h"}, "-config"}, struct {
		args []string
		want string
	}{[]string{"cert", "gen-test", "-h"}, "-nip"}, struct {
		args []string
		want string
	}{[]string{"notify", "test", "-h"}, "-config"})
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", noEnv, tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d, want 0; stderr: %s", code, stderr)
			}
			if tt.want != "" && !strings.Contains(stdout+stderr, tt.want) {
				t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", tt.want, stdout, stderr)
			}
		})
	}
}

func TestUsageErrorsStayExit2(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, args := range [][]string{{}, {"no-such-command"}, {"send", "-no-such-flag"}, {"status", "-json=maybe"}, {"auth"}, {"auth", "chek"}, {"cert"}, {"notify", "tset"}} {
		if code, _, _ := runCLI(t, "", noEnv, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}
