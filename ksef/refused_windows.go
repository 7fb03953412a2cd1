package ksef

import (
	"errors"
	"syscall"

	"golang.org/x/sys/windows"
)

// connectionRefused: nothing listens at the address. Winsock reports WSAECONNREFUSED, which
// syscall.ECONNREFUSED does not match on Windows.
func connectionRefused(err error) bool {
	return errors.Is(err, windows.WSAECONNREFUSED) || errors.Is(err, syscall.ECONNREFUSED)
}

// networkUnreachable: no route to the network or host.
func networkUnreachable(err error) bool {
	return errors.Is(err, windows.WSAENETUNREACH) || errors.Is(err, windows.WSAEHOSTUNREACH)
}
