//go:build !linux && !windows

package main

func onNetworkShare(path string) (bool, string) {
	if isUNC(path) {
		return true, "UNC path"
	}
	return false, ""
}
