//go:build windows

package main

import (
	"path/filepath"

	"golang.org/x/sys/windows"
)

// onNetworkShare reports UNC paths and mapped network drives.
func onNetworkShare(path string) (bool, string) {
	if isUNC(path) {
		return true, "UNC path"
	}
	vol := filepath.VolumeName(path)
	if vol == "" {
		return false, ""
	}
	p, err := windows.UTF16PtrFromString(vol + `\`)
	if err != nil {
		return false, ""
	}
	if windows.GetDriveType(p) == windows.DRIVE_REMOTE {
		return true, "mapped network drive"
	}
	return false, ""
}
