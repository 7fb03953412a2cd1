//go:build windows

package main

import (
	"os"
	"path/filepath"
)

// defaultConfigPath is %ProgramData%\ksef-sync\config.toml.
func defaultConfigPath() string {
	pd := os.Getenv("ProgramData")
	if pd == "" {
		pd = `C:\ProgramData`
	}
	return filepath.Join(pd, "ksef-sync", "config.toml")
}

// defaultServiceLogFile is %ProgramData%\ksef-sync\logs\ksef-sync.log, used when a service runs
// without [log] file.
func defaultServiceLogFile() string {
	return filepath.Join(filepath.Dir(defaultConfigPath()), "logs", "ksef-sync.log")
}

// serviceDependencies is empty on Windows. Every name listed becomes DependOnService, and a
// service whose dependency does not exist never starts (error 1075): systemd's ordering lines must
// not end up there. Nor LanmanWorkstation for UNC folders: the daemon already retries a share that
// does not answer yet, and the dependency would keep the service from starting at all (1068) where
// an admin disabled the Workstation service.
func serviceDependencies() []string { return nil }

// serviceAccountNeedsPassword: the service control manager logs on as the account with it.
const serviceAccountNeedsPassword = true

// serviceUserSupported: the service control manager runs the service as any account.
func serviceUserSupported(string) bool { return true }

// removeRCLinks has nothing to do on Windows.
func removeRCLinks(string) ([]string, error) { return nil, nil }
