package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

// `make build` (and `make cross`, same flags) stamps the version and the commit that support asks
// for, and builds release binaries: no local paths (-trimpath), no symbols (-s -w).
func TestMakeBuildStampsVersionAndCommit(t *testing.T) {
	testutil.SkipUnderWine(t, "runs make and the Go toolchain")
	if testing.Short() {
		t.Skip("builds the binary with release flags")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	bin := filepath.Join(t.TempDir(), "ksef-sync")
	build := exec.Command("make", "-C", filepath.Join("..", ".."), "build", "BIN="+bin, "VERSION=v9.8.7-test", "COMMIT=0123456789ab")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || string(out) != "ksef-sync v9.8.7-test (commit 0123456789ab)\n" {
		t.Errorf("ksef-sync version = %q, %v", out, err)
	}
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-trimpath=true", "CGO_ENABLED=0"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("go version -m lacks %s:\n%s", want, info)
		}
	}
	// -s: no symbol table (the build info omits -ldflags under -trimpath, so ask nm).
	if out, err := exec.Command("go", "tool", "nm", bin).CombinedOutput(); err == nil || !strings.Contains(string(out), "no symbols") {
		t.Errorf("go tool nm found symbols (%v): %.200s", err, out)
	}
}
