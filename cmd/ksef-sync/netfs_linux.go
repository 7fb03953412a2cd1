//go:build linux

package main

import "syscall"

// Magic numbers of network file systems (statfs f_type). Compared as uint32: f_type is a signed
// 32-bit field on some architectures, where 0xFF534D42 would otherwise never match.
var networkFS = map[uint32]string{0x6969: "NFS", 0xFF534D42: "CIFS", 0xFE534D42: "SMB2", 0x517B: "SMB", 0x65735546: "FUSE"}

// onNetworkShare reports whether path lives on a network file system.
func onNetworkShare(path string) (bool, string) {
	if isUNC(path) {
		return true, "UNC path"
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return false, ""
	}
	kind, ok := networkFS[uint32(st.Type)]
	return ok, kind
}
