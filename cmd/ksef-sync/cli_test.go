package main

import (
	"strings"
	"testing"
)

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
