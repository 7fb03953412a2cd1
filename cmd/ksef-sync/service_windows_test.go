//go:build windows

package main

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// install registers the service as Windows needs it, read back from the registry: every
// DependOnService exists (a missing one stops the service from starting, error 1075), automatic
// start, recovery actions; uninstall removes the key. It installs a real service, so it runs under
// Wine (make test-windows) and, on Windows, only when asked.
func TestServiceInstallRegistry(t *testing.T) {
	if !testutil.UnderWine() && os.Getenv("KSEF_SYNC_SERVICE_TESTS") == "" {
		t.Skip("installs a real service: runs under Wine (make test-windows) or with KSEF_SYNC_SERVICE_TESTS=1")
	}
	e := newE2E(t, ksefsim.Options{}, "")
	code, out, errOut := runCLI(t, "", nil, "install", "-config", e.cfgPath)
	if code != exitOK {
		t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
	}
	t.Cleanup(func() { runCLI(t, "", nil, "uninstall", "-config", e.cfgPath) })

	const keyPath = `SYSTEM\CurrentControlSet\Services\` + serviceName
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, keyPath, registry.QUERY_VALUE)
	if err != nil {
		t.Fatalf("service key: %v", err)
	}
	defer k.Close()
	if start, _, err := k.GetIntegerValue("Start"); err != nil || start != 2 {
		t.Errorf("Start = %d, %v; want 2 (automatic)", start, err)
	}
	deps, _, err := k.GetStringsValue("DependOnService")
	if err != nil && err != registry.ErrNotExist {
		t.Fatalf("DependOnService: %v", err)
	}
	m, err := mgr.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Disconnect()
	for _, d := range deps {
		if d == "" {
			continue
		}
		s, err := m.OpenService(d)
		if err != nil {
			t.Errorf("DependOnService lists %q, which is no service (%v): the service would never start (error 1075)", d, err)
			continue
		}
		s.Close()
	}
	s, err := m.OpenService(serviceName)
	if err != nil {
		t.Fatal(err)
	}
	acts, actsErr := s.RecoveryActions()
	s.Close()
	fa, _, faErr := k.GetBinaryValue("FailureActions")
	switch {
	case actsErr == nil && len(acts) > 0 && acts[0].Type == mgr.ServiceRestart && len(fa) > 0:
	case testutil.UnderWine():
		// Wine's ChangeServiceConfig2 accepts SERVICE_CONFIG_FAILURE_ACTIONS and stores nothing;
		// TestServiceConfigBakesAbsolutePath covers the options that ask for the restart.
		t.Logf("under Wine: recovery actions not stored (%v, %v); not checked here", actsErr, faErr)
	default:
		t.Errorf("recovery actions %v (%v), FailureActions %d bytes (%v): want a restart", acts, actsErr, len(fa), faErr)
	}
	if img, _, err := k.GetStringValue("ImagePath"); err != nil || !strings.Contains(img, " run -config ") {
		t.Errorf("ImagePath = %q, %v; want the run command with the config", img, err)
	}

	if code, out, errOut := runCLI(t, "", nil, "uninstall", "-config", e.cfgPath); code != exitOK {
		t.Fatalf("uninstall: exit %d\n%s%s", code, out, errOut)
	}
	if k2, err := registry.OpenKey(registry.LOCAL_MACHINE, keyPath, registry.QUERY_VALUE); err == nil {
		k2.Close()
		t.Error("the service key is still there after uninstall")
	}
}
