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
