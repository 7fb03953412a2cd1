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
