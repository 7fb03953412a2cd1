//go:build !windows

package ksef

import (
	"errors"
	"syscall"
)

// connectionRefused: nothing listens at the address.
func connectionRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// networkUnreachable: no route to the network or host.
func networkUnreachable(err error) bool {
	return errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH)
}
