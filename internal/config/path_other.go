//go:build !windows

package config

// Paths with a drive letter or UNC prefix are still compared case-insensitively (see normPath).
const caseInsensitivePaths = false
